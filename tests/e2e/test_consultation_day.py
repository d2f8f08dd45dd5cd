"""A consultation day at the mall, end to end, in headless Chromium on the real stack.

Kafka, PostgreSQL and the four services run as processes (``tests/stack.py``); notify sends to
a real SMTP server started by the test. Staff use the real pages: 受付 (``uketsuke``) takes in
three residents through the intake sheet, the programme teams work their inboxes, the food desk
hands out parcels. What the pages show is checked against the services' own tables and the mail
received. Each step is a test; a failed step skips the ones after it. Screenshots of every
step: ``test-output/e2e/screenshots/``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from e2e_kit import (
    TEAM_DOMAIN,
    VENUE,
    Case,
    Shots,
    Staff,
    fill_intake_sheet,
    holds,
    programme_name,
    query,
    residents,
    team_mail,
)
from playwright.sync_api import Page, expect
from stack import Stack, wait_for

from tsunagu.shared.contracts.codes import ReferralRole, ReferralStatus

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.steps,
    pytest.mark.timeout(600),
]

#: Routing's clock runs this far ahead in step 6: past the 1-hour deadline of urgent referrals,
#: well short of the 2 business days of the others.
CLOCK_OFFSET = timedelta(hours=2)
#: How long a count must stay put after it was reached: many notify polls and routing scans.
QUIET_SECONDS = 4.0
ROLE_LABELS = {"lead": "主担当", "coordinator": "調整役", "member": "連携"}
STATUS_LABELS = {"pending": "受付待ち", "suggested": "同意待ち", "accepted": "受付済み"}


@dataclass
class Day:
    stack: Stack
    staff: Staff
    shots: Shots
    event_date: date
    cases: dict[str, Case] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        return f"{self.event_date:%Y%m%d}-{VENUE}"

    @property
    def intake(self) -> str:
        return self.stack.url("intake")

    @property
    def food(self) -> str:
        return self.stack.url("food_distribution")

    def case_page(self, page: Page, case: Case) -> None:
        page.goto(f"{self.intake}/cases/{case.case_id}")
        expect(page.get_by_role("heading", name="相談記録")).to_be_visible()

    def referral_rows(self, case_ids: list[str]) -> dict[tuple[str, str], Any]:
        rows = query(
            self.stack,
            "SELECT * FROM routing.referral WHERE case_id = ANY($1::text[])",
            case_ids,
        )
        return {(r["case_id"], r["programme"]): r for r in rows}


@pytest.fixture(scope="module")
def day(stack: Stack, browser: Any, shots: Shots) -> Iterator[Day]:
    staff = Staff(browser, stack.url("intake"))
    try:
        yield Day(stack=stack, staff=staff, shots=shots, event_date=stack.today)
    finally:
        staff.close()


def test_1_uketsuke_takes_in_three_residents_at_the_mall(day: Day) -> None:
    page = day.staff.page("uketsuke")
    expect(page.get_by_role("heading", name="当日ボード")).to_be_visible()
    day.shots(page, "uketsuke-logged-in-board")

    for resident in residents():
        case = Case(resident, resident.decision(day.event_date))
        page.get_by_role("link", name="新規受付").first.click()
        expect(page.get_by_role("heading", name="相談受付・申込票")).to_be_visible()
        fill_intake_sheet(page, day.event_id, resident, day.event_date)
        expect(page.locator("#event_id option:checked")).to_contain_text("イオンモール")

        # Where the case will go, before saving: asked of the running routing service.
        page.get_by_role("button", name="振り分けを確認").click()
        preview = page.locator("#preview")
        expect(preview).to_contain_text("振り分けの見込み")
        for programme in case.decision.programmes:
            expect(preview).to_contain_text(programme_name(programme.value))
        if case.decision.urgent:
            expect(preview.locator(".urgent-text")).to_have_text("緊急")
        day.shots(page, f"intake-sheet-{resident.key}-with-preview")

        case.saved_at = time.monotonic()
        page.get_by_role("button", name="受付を登録する").click()
        heading = page.get_by_role("heading", name="相談記録")
        notice = page.locator("#notice")
        expect(heading.or_(notice)).to_be_visible()
        if notice.is_visible():  # someone alike is known: this is a new resident
            page.get_by_label("新しい相談者として登録する").check()
            page.get_by_role("button", name="受付を登録する").click()
        expect(heading).to_be_visible()
        expect(page.get_by_text(f"{resident.name}（{resident.kana}）")).to_be_visible()
        case.case_id = page.url.rstrip("/").split("/")[-1]
        case.case_number = page.locator("h1 .mono").inner_text().strip()
        assert case.case_number, f"{resident.key}: the case page shows no case number"

        # Routing's answer arrives on the open page, without a reload (server-sent events).
        rows = page.locator("#referrals table.referrals tr[data-programme]")
        expect(rows).to_have_count(len(case.decision.programmes))
        took = time.monotonic() - case.saved_at
        print(f"[e2e] {resident.key} {case.case_number}: referrals on the page in {took:.1f}s")
        assert took < 30, f"{resident.key}: referrals took {took:.1f}s to reach the case page"
        day.cases[resident.key] = case
        day.shots(page, f"case-{resident.key}-routed-live")
    page.close()

    stored = query(
        day.stack,
        "SELECT case_number, taken_by, event_id FROM intake.case WHERE case_id = ANY($1::text[])",
        [c.case_id for c in day.cases.values()],
    )
    assert {(r["case_number"], r["taken_by"], r["event_id"]) for r in stored} == {
        (c.case_number, "uketsuke", day.event_id) for c in day.cases.values()
    }


def test_2_case_pages_show_the_referrals_and_roles(day: Day) -> None:
    example, household, no_consent = (day.cases[k] for k in ("example", "8050", "no-consent"))
    # What the rules give, in the council's words, before the pages are read.
    assert dict(example.decision.roles) == {
        "life_independence": ReferralRole.LEAD,
        "csw_participation": ReferralRole.MEMBER,
    }, "the article's example: life_independence leads, csw_participation joins"
    assert household.decision.roles["csw_outreach"] is ReferralRole.COORDINATOR
    assert "life_independence" in household.decision.roles, "the arrears go to life_independence"
    assert no_consent.shared == {no_consent.lead} and no_consent.awaiting, (
        "without a basis only the lead receives the case"
    )
    assert no_consent.decision.urgent and not example.decision.urgent

    page = day.staff.page("uketsuke")
    for key, case in day.cases.items():
        day.case_page(page, case)
        table = page.locator("#referrals table.referrals")
        expect(table.locator("tr[data-programme]")).to_have_count(len(case.decision.programmes))
        for programme in case.decision.programmes:
            code = programme.value
            role = case.decision.roles[programme].value
            status = case.decision.initial_status(programme).value
            row = table.locator(f'tr[data-programme="{code}"]')
            expect(row.locator("th")).to_have_text(programme_name(code))
            expect(row.locator(f".badge.role-{role}")).to_have_text(ROLE_LABELS[role])
            expect(row.locator(f".badge.status-{status}")).to_have_text(STATUS_LABELS[status])
        reasons = page.locator("#referrals ul.reasons li").all_inner_texts()
        untranslated = [r for r in reasons if re.search(r"[a-z]{3,}", r)]
        assert reasons and not untranslated, f"{key}: reasons not in Japanese: {untranslated}"
        summary = page.locator("#referrals dl.summary")
        expect(summary).to_contain_text(programme_name(case.lead))
        if case.awaiting:
            waiting = summary.locator("dt:has-text('同意待ちの窓口') + dd")
            for code in case.awaiting:
                expect(waiting).to_contain_text(programme_name(code))
        urgent = page.locator("section p.urgent-text")
        if case.decision.urgent:
            expect(urgent).to_contain_text("緊急")
            expect(urgent).to_contain_text("今日食べるものがない")
        else:
            expect(urgent).to_have_count(0)
        eligible = "対象です" if case.resident.food_eligible else "対象ではありません"
        expect(page.locator("#food-status")).to_have_text(eligible)
        day.shots(page, f"case-{key}-referrals")
    page.close()

    # The pages agree with routing's own records.
    stored = day.referral_rows([c.case_id for c in day.cases.values()])
    expected = {
        (c.case_id, p.value): (c.decision.roles[p].value, c.decision.initial_status(p).value)
        for c in day.cases.values()
        for p in c.decision.programmes
    }
    assert {k: (r["role"], r["status"]) for k, r in stored.items()} == expected
    urgent_lead = stored[(no_consent.case_id, no_consent.lead)]
    assert urgent_lead["deadline_at"] - urgent_lead["created_at"] == timedelta(hours=1), (
        "an urgent referral must be accepted within the hour"
    )
    for row in stored.values():
        if row["status"] == ReferralStatus.SUGGESTED:
            assert row["deadline_at"] is None and row["shared_at"] is None


def inbox_cards(page: Page, case_number: str) -> Any:
    card = page.locator("#inbox article.referral")
    return card.filter(has=page.get_by_role("link", name=case_number, exact=True))


def test_3_each_programme_sees_only_its_referrals_and_csw_accepts(day: Day) -> None:
    numbers = {c.case_number for c in day.cases.values()}
    for user in ("csw_participation", "life_independence", "csw_outreach"):
        page = day.staff.page(user)
        page.goto(day.intake + "/inbox")
        title = f"窓口の受信箱 — {programme_name(user)}"
        expect(page.get_by_role("heading", name=title)).to_be_visible()
        mine = {c.case_number for c in day.cases.values() if user in c.shared}
        assert mine, f"{user} should have received at least one of the three cases"
        for number in sorted(mine):
            expect(inbox_cards(page, number)).to_have_count(1)
        for number in sorted(numbers - mine):
            expect(inbox_cards(page, number), f"{user} must not see {number}").to_have_count(0)
        for card in page.locator("#inbox article.referral").all():
            expect(card).to_contain_text(programme_name(user))
        for case in day.cases.values():
            if case.case_number in mine and case.decision.urgent:
                expect(inbox_cards(page, case.case_number).locator(".badge.urgent")).to_have_text(
                    "緊急"
                )
        shown = page.locator("#inbox article.referral h2 a").all_inner_texts()
        print(f"[e2e] inbox of {user}: {sorted(shown)}")
        day.shots(page, f"inbox-{user}")
        page.close()

    # A programme the case is only suggested to has not received it: not even the page.
    example, no_consent = day.cases["example"], day.cases["no-consent"]
    assert "csw_participation" in no_consent.awaiting
    page = day.staff.page("csw_participation")
    response = page.goto(f"{day.intake}/cases/{no_consent.case_id}")
    assert response is not None and response.status == 404, (
        f"csw_participation opened a case awaiting consent: HTTP {response and response.status}"
    )

    # csw_participation accepts the example's referral from its inbox.
    page.goto(day.intake + "/inbox")
    card = inbox_cards(page, example.case_number)
    card.get_by_role("button", name="受ける").click()
    accepted = inbox_cards(page, example.case_number).locator(".badge.status-accepted")
    expect(accepted).to_have_text("受付済み")  # routing confirmed it (live update)
    day.shots(page, "inbox-csw_participation-accepted")
    page.close()

    page = day.staff.page("uketsuke")
    day.case_page(page, example)
    table = page.locator("#referrals table.referrals")
    row = table.locator('tr[data-programme="csw_participation"]')
    expect(row.locator(".badge.status-accepted")).to_have_text("受付済み")
    lead = table.locator('tr[data-programme="life_independence"]')
    expect(lead.locator(".badge.status-pending")).to_have_text("受付待ち")
    day.shots(page, "case-example-csw-accepted")
    page.close()

    stored = day.referral_rows([example.case_id])[(example.case_id, "csw_participation")]
    assert (stored["status"], stored["taken_by"]) == ("accepted", "csw_participation")


def test_4_each_team_got_one_message_per_shared_referral(day: Day) -> None:
    numbers = [c.case_number for c in day.cases.values()]
    expected = Counter(
        {
            (f"{programme}{TEAM_DOMAIN}", case.case_number, "referral"): 1
            for case in day.cases.values()
            for programme in case.shared
        }
    )
    wait_for(
        lambda: sum(team_mail(day.stack, numbers).values()) >= sum(expected.values()),
        timeout=60,
        what=f"{sum(expected.values())} referral messages to the teams",
    )
    assert team_mail(day.stack, numbers) == expected, "one message per shared referral"
    # Nothing more arrives: no duplicate, nothing for the programme still awaiting consent.
    holds(
        lambda: team_mail(day.stack, numbers) == expected,
        QUIET_SECONDS,
        "team mail stays at one message per shared referral",
    )
    urgent = day.cases["no-consent"]
    subjects = [str(m["Subject"]) for m in day.stack.smtp.to(f"{urgent.lead}{TEAM_DOMAIN}")]
    assert f"【至急】新しい紹介があります（受付番号 {urgent.case_number}）" in subjects

    deliveries = query(
        day.stack,
        "SELECT case_id, recipient_ref, status FROM notify.delivery "
        "WHERE recipient_kind = 'team' AND case_id = ANY($1::text[])",
        [c.case_id for c in day.cases.values()],
    )
    assert sorted((d["case_id"], d["recipient_ref"], d["status"]) for d in deliveries) == sorted(
        (c.case_id, p, "sent") for c in day.cases.values() for p in c.shared
    )


def stock_of(day: Day, client: Any, parcel_type: str) -> int:
    response = client.get("/api/v1/stock", params={"event_id": day.event_id})
    assert response.status_code == 200, response.text
    return next(i["remaining"] for i in response.json()["items"] if i["parcel_type"] == parcel_type)


def find_household(page: Page, case: Case) -> None:
    page.get_by_placeholder("相談番号 または ふりがな").fill(case.case_number)
    page.get_by_role("button", name="検索").click()
    page.locator(".hits a", has_text=case.case_number).click()
    expect(page.locator(".who")).to_contain_text(case.case_number)


def test_5_food_desk_hands_one_parcel_to_each_eligible_household(day: Day) -> None:
    received = {"standard": 20, "no_pork": 8, "allergy_friendly": 6, "infant": 6}
    with day.stack.client("food_distribution", "food") as api:
        for parcel_type, quantity in received.items():
            response = api.post(
                "/api/v1/stock/receipts",
                json={
                    "event_id": day.event_id,
                    "venue_id": VENUE,
                    "parcel_type": parcel_type,
                    "quantity": quantity,
                    "source": "フードバンク川口",
                },
            )
            assert response.status_code == 201, response.text
        for case in day.cases.values():

            def known(case: Case = case) -> bool:
                r = api.get(f"/api/v1/eligibility/{case.case_id}")
                return r.status_code == 200 and r.json()["eligible"] == case.resident.food_eligible

            wait_for(known, timeout=60, what=f"food desk knows {case.resident.key}")
        before = stock_of(day, api, "standard")
        assert before == received["standard"]

        eligible = [c for c in day.cases.values() if c.resident.food_eligible]
        assert {c.resident.key for c in eligible} == {"example", "8050"}
        page = day.staff.page("food")
        page.goto(f"{day.food}/desk?event_id={day.event_id}")
        standard = page.locator("[data-tile='standard'] [data-stock='standard']")
        expect(standard).to_have_text(str(before))
        day.shots(page, "food-desk-stock-received")
        for n, case in enumerate(eligible, start=1):
            find_household(page, case)
            expect(page.locator(".status.ok")).to_have_text("✓ 配布対象です")
            # A second desk has the same household on screen, from before the handout.
            other = day.staff.page("food")
            other.goto(page.url)
            expect(other.locator(".status.ok")).to_have_text("✓ 配布対象です")

            page.get_by_role("button", name="標準を渡す").click()
            expect(page.get_by_role("status")).to_contain_text("標準を受け渡しました")
            expect(page.get_by_role("button", name="標準を渡す")).to_be_disabled()
            expect(page.locator(".status.done")).to_contain_text("受け渡し済みです")
            expect(standard).to_have_text(str(before - n))
            day.shots(page, f"food-desk-{case.resident.key}-handed-out")

            other.get_by_role("button", name="標準を渡す").click()
            refusal = other.get_by_role("alert")
            expect(refusal).to_contain_text("food さんが受け渡し済みです")
            expect(other.get_by_role("button", name="標準を渡す")).to_be_disabled()
            day.shots(other, f"food-desk-{case.resident.key}-second-attempt-refused")
            other.close()

        for case in (c for c in day.cases.values() if not c.resident.food_eligible):
            find_household(page, case)
            expect(page.locator(".status.no")).to_have_text("配布対象ではありません")
            expect(page.get_by_role("button", name="標準を渡す")).to_be_disabled()
            day.shots(page, f"food-desk-{case.resident.key}-not-eligible")
        page.close()

        after = stock_of(day, api, "standard")
        assert after == before - len(eligible), f"stock {before} → {after}"
    handouts = query(
        day.stack,
        "SELECT case_id, count(*) AS n FROM food_distribution.handout "
        "WHERE case_id = ANY($1::text[]) GROUP BY case_id",
        [c.case_id for c in day.cases.values()],
    )
    assert {r["case_id"]: r["n"] for r in handouts} == {c.case_id: 1 for c in eligible}

    # Intake hears of it: the case page says the parcel was handed out.
    page = day.staff.page("uketsuke")
    day.case_page(page, day.cases["example"])
    expect(page.locator("#food-status")).to_contain_text("お渡し済み")
    page.close()


def test_6_a_passed_deadline_escalates_once(day: Day) -> None:
    case_ids = [c.case_id for c in day.cases.values()]
    pending = {k: r for k, r in day.referral_rows(case_ids).items() if r["status"] == "pending"}
    ahead = datetime.now(UTC) + CLOCK_OFFSET - timedelta(minutes=5)
    overdue = {k for k, r in pending.items() if r["deadline_at"] < ahead}
    urgent = day.cases["no-consent"]
    assert overdue == {(urgent.case_id, urgent.lead)}, "only the urgent lead is due within 2h"
    numbers = [c.case_number for c in day.cases.values()]
    supervisor = f"{urgent.lead}-supervisor{TEAM_DOMAIN}"
    expected = Counter({(supervisor, urgent.case_number, "escalation"): 1})

    def escalations() -> Counter[tuple[str, str, str]]:
        mail = team_mail(day.stack, numbers)
        return Counter({k: n for k, n in mail.items() if k[2] == "escalation"})

    assert not escalations(), "escalated before the deadline passed"
    offset = str(int(CLOCK_OFFSET.total_seconds()))
    day.stack.restart("routing", TSUNAGU_ROUTING_CLOCK_OFFSET_SECONDS=offset)
    try:
        wait_for(lambda: escalations(), timeout=60, what="the escalation message")
        assert escalations() == expected, "one message, to the programme's supervisor"
        holds(
            lambda: escalations() == expected,
            QUIET_SECONDS,
            "no second escalation after further scans",
        )
        after = day.referral_rows(case_ids)
        for key in pending:
            want = "escalated" if key in overdue else "pending"
            assert after[key]["status"] == want, f"{key}: {after[key]['status']}, not {want}"
        changes = query(
            day.stack,
            "SELECT referral_id, count(*) AS n FROM routing.referral_status_change "
            "WHERE action = 'escalate' AND case_id = ANY($1::text[]) GROUP BY referral_id",
            case_ids,
        )
        assert [r["n"] for r in changes] == [1], "escalated exactly once in routing's history"
        # Other tests' cases on this stack may be overdue as well: take this case's message.
        [message] = [
            m
            for m in day.stack.smtp.to(supervisor)
            if "期限超過" in str(m["Subject"]) and urgent.case_number in str(m["Subject"])
        ]
        body = message.get_body(preferencelist=("plain",))
        assert body is not None and urgent.case_number in body.get_content()

        page = day.staff.page("uketsuke")
        day.case_page(page, urgent)
        row = page.locator(f'#referrals tr[data-programme="{urgent.lead}"]')
        expect(row.locator(".badge.status-escalated")).to_have_text("期限超過")
        day.shots(page, "case-no-consent-escalated")
        page.close()
    finally:
        day.stack.restart("routing")  # real time again for whatever runs next on this stack
