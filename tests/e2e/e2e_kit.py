"""What the consultation-day test needs besides the stack: the three residents, what routing
must decide for each, the staff's browser sessions, and readers for the mail the teams got."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect
from stack import DEMO_PASSWORD, Stack

from tsunagu.intake.domain.normalize import age_on, format_era
from tsunagu.routing.domain import CaseFacts, Decision, decide, load_rules
from tsunagu.shared.contracts.codes import (
    CONCERN_LABELS_JA,
    PROGRAMME_NAMES_JA,
    Concern,
    Programme,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TABLET = {"width": 1280, "height": 800}  # a 10-inch tablet held sideways, as at the venue
VENUE = "aeon-mall"  # イオンモール in the demo data
TEAM_DOMAIN = "@team.tsunagu.example"  # notify's default team and supervisor patterns
#: Cross-service steps on a shared 2-core machine: generous, but never a sleep.
UI_TIMEOUT_MS = 30_000

RULES = load_rules()


def born_aged(age: int, on: date) -> date:
    """A birthday on 1 January: the resident is exactly ``age`` on ``on``."""
    birth = date(on.year - age, 1, 1)
    assert age_on(birth, on) == age
    return birth


def unique_phone() -> str:
    """A mobile number that can exist (the second block of a 090 number never starts with 0)."""
    n = uuid.uuid4().int
    return f"090-{1000 + n % 9000:04d}-{n // 9000 % 10000:04d}"


@dataclass(frozen=True)
class Resident:
    """One person at the desk, as the intake sheet records them."""

    key: str  # short name for screenshots and messages
    name: str
    kana: str
    age: int
    sex: str  # the radio label: 女性 / 男性
    address: str
    lives_alone: bool
    concerns: tuple[str, ...]
    most_pressing: str
    household: tuple[tuple[str, int], ...] = ()
    share: bool = True
    basis: str = "consent"
    no_food_today: bool = False
    language: str = "ja"
    contact_time: str = "any"
    notes: str = ""
    phone: str = field(default_factory=unique_phone)

    def decision(self, event_date: date) -> Decision:
        """What routing must decide, from the rule set itself (as tests/cases.py does)."""
        facts = CaseFacts.from_raw(
            concerns=list(self.concerns),
            most_pressing=self.most_pressing,
            age=self.age,
            disability_certificate=False,
            special_loan_borrower=False,
            lives_alone=self.lives_alone,
            no_food_today=self.no_food_today,
            eviction_within_7_days=False,
            sharing_basis=self.basis,
        )
        assert facts.age == age_on(born_aged(self.age, event_date), event_date)
        return decide(facts, RULES)

    @property
    def food_eligible(self) -> bool:
        """Routing's rule set decides it (rule 9), as the food desk follows routing."""
        return any(Concern(c) in RULES.food_parcel_concerns for c in self.concerns)


def residents() -> list[Resident]:
    return [
        # The article's example: 78, lives alone, short of money and wants company.
        Resident(
            key="example",
            name="川口 花子",
            kana="かわぐち はなこ",
            age=78,
            sex="女性",
            address="埼玉県川口市本町1-2-3",
            lives_alone=True,
            concerns=("income_shortfall", "isolation"),
            most_pressing="income_shortfall",
            contact_time="afternoon",
            notes="年金だけでは生活費が足りない。話し相手がほしいとのこと",
        ),
        # An 8050 household: the father (82) came; his son (50) has withdrawn; arrears.
        Resident(
            key="8050",
            name="鳩ヶ谷 正一",
            kana="はとがや しょういち",
            age=82,
            sex="男性",
            address="埼玉県川口市鳩ヶ谷本町4-5-6",
            lives_alone=False,
            household=(("長男", 50),),
            concerns=("family_8050", "hikikomori", "debt_arrears"),
            most_pressing="family_8050",
            notes="長男（50）が10年ほどひきこもり。家賃と公共料金の滞納あり",
        ),
        # No consent to share, and nothing to eat today: urgent.
        Resident(
            key="no-consent",
            name="グエン ヴァン アン",
            kana="ぐえん ばん あん",
            age=34,
            sex="男性",
            address="埼玉県川口市芝園町7-8",
            lives_alone=True,
            concerns=("employment", "isolation"),
            most_pressing="employment",
            share=False,
            basis="none",
            no_food_today=True,
            language="vi",
            notes="先月失業。今日食べるものがない。他の窓口への共有は希望しない",
        ),
    ]


@dataclass
class Case:
    """A resident once taken in: the case intake made and what routing must decide."""

    resident: Resident
    decision: Decision
    case_id: str = ""
    case_number: str = ""
    saved_at: float = 0.0  # time.monotonic() at the click on 受付を登録する

    @property
    def shared(self) -> set[str]:
        return {p.value for p in self.decision.shared}

    @property
    def awaiting(self) -> set[str]:
        return {p.value for p in self.decision.awaiting_consent}

    @property
    def lead(self) -> str:
        return self.decision.lead.value


def programme_name(code: str) -> str:
    return PROGRAMME_NAMES_JA[Programme(code)]


def concern_label(code: str) -> str:
    return CONCERN_LABELS_JA[Concern(code)]


class Shots:
    """Numbered full-page screenshots, one or more per step, for a person to look at."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken: list[Path] = []

    def __call__(self, page: Page, name: str) -> Path:
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


class Staff:
    """One browser context per staff member, each logged in through intake's login page."""

    def __init__(self, browser: Browser, intake_url: str) -> None:
        self.browser = browser
        self.intake_url = intake_url
        self.contexts: dict[str, BrowserContext] = {}

    def page(self, username: str) -> Page:
        """A new tab for ``username``, logged in on first use."""
        context = self.contexts.get(username)
        if context is None:
            context = self.browser.new_context(viewport=TABLET, locale="ja-JP")
            context.set_default_timeout(UI_TIMEOUT_MS)
            self.contexts[username] = context
            page = context.new_page()
            log_in(page, self.intake_url, username)
            return page
        return context.new_page()

    def close(self) -> None:
        for context in self.contexts.values():
            context.close()
        self.contexts.clear()


def log_in(page: Page, intake_url: str, username: str) -> None:
    page.goto(intake_url + "/login")
    expect(page.get_by_role("heading", name="職員ログイン")).to_be_visible()
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    # A refused login stays on /login with an alert; a good one goes to the role's start page.
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.get_by_role("button", name="ログアウト")).to_be_visible()


def fill_intake_sheet(page: Page, event_id: str, r: Resident, event_date: date) -> None:
    """The intake sheet as 受付 fills it in at the desk, field by field."""
    page.get_by_role("combobox", name="相談会").select_option(event_id)
    page.get_by_role("textbox", name="氏名 必須", exact=True).fill(r.name)
    page.get_by_role("textbox", name="ふりがな 必須").fill(r.kana)
    page.get_by_role("textbox", name="生年月日").fill(format_era(born_aged(r.age, event_date)))
    page.get_by_label(r.sex, exact=True).check()
    page.get_by_role("textbox", name="住所").fill(r.address)
    page.get_by_role("textbox", name="電話番号").fill(r.phone)
    page.get_by_role("combobox", name="連絡に使う言語").select_option(r.language)
    lives_alone = page.locator("fieldset", has_text="ひとり暮らし")
    lives_alone.get_by_label("はい" if r.lives_alone else "いいえ", exact=True).check()
    for i, (relationship, age) in enumerate(r.household):
        page.get_by_role("textbox", name=f"続柄 {i + 1}", exact=True).fill(relationship)
        page.get_by_role("textbox", name=f"年齢 {i + 1}", exact=True).fill(str(age))
    for concern in r.concerns:
        page.get_by_role("checkbox", name=concern_label(concern), exact=True).check()
    page.get_by_role("radio", name=f"一番困っていること: {concern_label(r.most_pressing)}").check()
    if r.no_food_today:
        page.get_by_label("今日食べるものがない").check()
    page.get_by_label("共有に同意する" if r.share else "共有しない", exact=True).check()
    basis_label = {"consent": "本人同意", "support_meeting": "支援会議", "none": "なし"}[r.basis]
    page.locator("#consent-basis").get_by_label(basis_label, exact=True).check()
    page.locator("#consent-contact_channels").get_by_label("電話", exact=True).check()
    page.get_by_role("combobox", name="連絡の時間帯").select_option(r.contact_time)
    page.get_by_role("textbox", name="メモ").fill(r.notes)


def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` (which starts its own event loop) away from Playwright's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def query(stack: Stack, sql: str, *args: Any) -> list[Any]:
    return list(in_thread(stack.query, sql, *args))


# --- the mail the teams received ------------------------------------------------------------


def team_mail(stack: Stack, case_numbers: Iterable[str]) -> Counter[tuple[str, str, str]]:
    """(recipient, case number, kind) → how many messages, for mail to team addresses that
    names one of ``case_numbers``; kind is ``escalation`` or ``referral``."""
    wanted = set(case_numbers)
    found: Counter[tuple[str, str, str]] = Counter()
    for message in stack.smtp.to(TEAM_DOMAIN):
        subject = str(message["Subject"])
        match = re.search(r"受付番号 ([^）)\s]+)", subject)
        if match is None or match.group(1) not in wanted:
            continue
        kind = "escalation" if "期限超過" in subject else "referral"
        for address in message["To"].addresses:
            found[(address.addr_spec, match.group(1), kind)] += 1
    return found


def holds(check: Callable[[], Any], seconds: float, what: str, interval: float = 0.25) -> None:
    """``check`` stays true for ``seconds`` (nothing more arrives, nothing changes back)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        assert value, f"{what}: no longer true ({value!r})"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)
