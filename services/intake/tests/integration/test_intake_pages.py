"""The staff pages through a browser's eyes (cookies, forms, CSRF), without a browser."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest
from intake_helpers import (
    PASSWORD,
    App,
    case_body,
    case_routed,
    eventually,
    otp_fields,
    publish,
    todays_event,
    unique_phone,
)
from sqlalchemy import select

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.staff import StaffInput
from tsunagu.shared.auth import COOKIE_NAME
from tsunagu.shared.contracts.codes import StaffRole
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import FOOD, ROUTING_CASE

pytestmark = pytest.mark.integration

HTML = {"Accept": "text/html"}


@pytest.fixture
async def browser(intake_app: App) -> AsyncIterator[httpx.AsyncClient]:
    """A client of its own, so that its cookies are its own (and an address other than the
    fuzzing tests', whose failed logins make that address wait)."""
    transport = httpx.ASGITransport(app=intake_app.app, client=("127.0.0.2", 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://intake.test", headers=HTML
    ) as client:
        yield client


async def log_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD):
    page = await client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    return await client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf[1],
            "next": "/",
            **(await otp_fields(username)),
        },
    )


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found[1]


def sheet(csrf: str, key: str, **changes: str) -> dict[str, object]:
    phone = unique_phone()
    form: dict[str, object] = {
        "csrf_token": csrf,
        "idempotency_key": key,
        "event_id": todays_event(),
        "resident.name": "川口 花子",
        "resident.name_kana": "かわぐち はなこ",
        "resident.birth_date": "昭和23年5月1日",
        "resident.sex": "female",
        "resident.phone": phone,
        "resident.lives_alone": "yes",
        "concerns": ["income_shortfall", "isolation"],
        "most_pressing": "income_shortfall",
        "consent.share_across_programmes": "yes",
        "consent.basis": "consent",
        "consent.contact_channels": ["phone"],
        "consent.contact_time": "afternoon",
        "notes": "話し相手がほしい",
        "action": "save",
    }
    form.update(changes)
    return form


async def test_login_sets_a_safe_session_cookie_and_logout_ends_it(browser) -> None:
    refused = await log_in(browser, "uketsuke", "wrong")
    assert refused.status_code == 401
    assert "ユーザー名・パスワード・確認コードのいずれかが違います" in refused.text

    response = await log_in(browser, "uketsuke")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")

    board = await browser.get("/board")
    assert board.status_code == 200
    assert "当日ボード" in board.text and "イオンモール" in board.text
    # Activity slides the idle timeout: a fresh cookie with every page.
    assert board.headers["set-cookie"].startswith(f"{COOKIE_NAME}=")
    assert board.headers["cache-control"] == "no-store"

    kept = browser.cookies[COOKIE_NAME]
    out = await browser.post("/logout", data={"csrf_token": csrf_of(board)})
    assert out.status_code == 303
    browser.cookies.clear()
    again = await browser.get("/board")
    assert again.status_code == 303 and "/login" in again.headers["location"]
    # The cookie a thief copied before the logout is refused too, and not issued again.
    browser.cookies.set(COOKIE_NAME, kept)
    stolen = await browser.get("/board")
    assert stolen.status_code == 303 and "/login" in stolen.headers["location"]
    assert COOKIE_NAME not in stolen.headers.get("set-cookie", "")
    browser.cookies.clear()


async def test_a_form_post_without_the_csrf_token_is_refused(browser) -> None:
    await log_in(browser, "uketsuke")
    form = sheet("not-the-token", "00000000-0000-4000-8000-000000000001")
    response = await browser.post("/cases/new", data=form)
    assert response.status_code == 403


async def test_taking_a_resident_in_through_the_form(browser, intake_app: App) -> None:
    await log_in(browser, "uketsuke")
    page = await browser.get("/cases/new")
    assert page.status_code == 200
    csrf = csrf_of(page)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)[1]

    invalid = await browser.post(
        "/cases/new", data=sheet(csrf, key, **{"resident.name_kana": "", "concerns": []})
    )
    assert invalid.status_code == 422
    assert "ふりがなを入力してください" in invalid.text
    assert "相談内容を1つ以上選んでください" in invalid.text

    form = sheet(csrf, key, **{"resident.name_kana": "みなみ はなこ", "action": "preview"})
    preview = await browser.post("/cases/new", data=form)
    assert preview.status_code == 200
    assert "振り分けサービスに接続できません" in preview.text  # routing is not running

    saved = await browser.post("/cases/new", data=form | {"action": "save"})
    assert saved.status_code == 303
    case_url = saved.headers["location"]
    again = await browser.post("/cases/new", data=form | {"action": "save"})
    assert again.headers["location"] == case_url  # a double submit is the same case

    case = await browser.get(case_url)
    assert case.status_code == 200
    assert "川口 花子（みなみ はなこ）" in case.text
    assert "昭和23年5月1日" in case.text
    assert "振り分けの結果を待っています" in case.text

    # The next visit offers the same resident before a second one is created.
    form2 = sheet(
        csrf, "00000000-0000-4000-8000-00000000abcd", **{"resident.name_kana": "ミナミ ハナコ"}
    )
    form2["resident.phone"] = form["resident.phone"]
    hinted = await browser.post("/cases/new", data=form2)
    assert hinted.status_code == 200
    assert "同じ人かもしれない相談者がいます" in hinted.text
    resident_id = re.search(r'name="resident_choice" value="([0-9a-f-]{36})"', hinted.text)[1]
    linked = await browser.post("/cases/new", data=form2 | {"resident_choice": resident_id})
    assert linked.status_code == 303
    second = await browser.get(linked.headers["location"])
    assert case_url.rsplit("/", 1)[1] in second.text  # the earlier visit is listed

    case_id = case_url.rsplit("/", 1)[1]
    a = tables.audit_log
    async with intake_app.runtime.sessions() as session:
        actions = (
            (await session.execute(select(a.c.action).where(a.c.case_id == case_id)))
            .scalars()
            .all()
        )
    assert "case.create" in actions and "case.page" in actions


async def test_english_on_request(browser) -> None:
    await log_in(browser, "uketsuke")
    page = await browser.get("/board?lang=en")
    assert "Event day board" in page.text
    assert '<html lang="en">' in page.text
    assert "Event day board" in (await browser.get("/board")).text  # remembered
    assert "当日ボード" in (await browser.get("/board?lang=ja")).text


async def test_programme_inbox_and_response(browser, intake_app: App) -> None:
    staff = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=intake_app.app), base_url="http://intake.test"
    )
    token = (
        await staff.post("/api/v1/auth/token", data={"username": "uketsuke", "password": PASSWORD})
    ).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    created = (await staff.post("/api/v1/cases", json=case_body(), headers=bearer)).json()
    await publish(
        intake_app.settings.kafka_bootstrap,
        ROUTING_CASE.name,
        created["case_id"],
        case_routed(created["case_id"], created["case_number"], todays_event()),
    )

    async def routed() -> bool:
        case = (await staff.get(f"/api/v1/cases/{created['case_id']}", headers=bearer)).json()
        return len(case["referrals"]) == 2

    await eventually(routed)
    await staff.aclose()

    await log_in(browser, "csw_participation")
    inbox = await browser.get("/inbox")
    assert inbox.status_code == 200
    assert created["case_number"] in inbox.text
    referral_id = re.search(
        rf'id="referral-([0-9a-f-]+)"[^>]*>\s*<h2[^>]*><a href="/cases/{created["case_id"]}"',
        inbox.text,
    )[1]
    missing_reason = await browser.post(
        f"/inbox/referrals/{referral_id}/respond",
        data={"csrf_token": csrf_of(inbox), "action": "decline"},
    )
    assert missing_reason.status_code == 422
    assert "お断りする理由を入力してください" in missing_reason.text
    accepted = await browser.post(
        f"/inbox/referrals/{referral_id}/respond",
        data={"csrf_token": csrf_of(inbox), "action": "accept"},
    )
    assert accepted.status_code == 303
    assert "送信済み・確認待ち" in (await browser.get("/inbox")).text
    # Their case page opens; the board is not theirs.
    assert (await browser.get(f"/cases/{created['case_id']}")).status_code == 200
    assert (await browser.get("/board")).status_code == 403


async def test_food_desk_sees_only_what_a_handout_needs(browser, intake_app: App) -> None:
    staff = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=intake_app.app), base_url="http://intake.test"
    )
    token = (
        await staff.post("/api/v1/auth/token", data={"username": "uketsuke", "password": PASSWORD})
    ).json()
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    created = (await staff.post("/api/v1/cases", json=case_body(), headers=auth)).json()
    not_eligible = (await staff.post("/api/v1/cases", json=case_body(), headers=auth)).json()
    await staff.aclose()
    bootstrap = intake_app.settings.kafka_bootstrap
    # Food distribution grants the first household a parcel; the second gets nothing.
    granted = Envelope(
        event_type="eligibility_granted",
        producer="food_distribution",
        data={
            "case_id": created["case_id"],
            "household_id": "h-" + created["case_id"],
            "event_id": todays_event(),
            "basis": "manual",
            "reason": "staff decision",
        },
    )
    await publish(bootstrap, FOOD.name, created["case_id"], granted)
    await log_in(browser, "food")

    async def granted_first() -> bool:
        async with intake_app.runtime.sessions() as session:
            fe = tables.food_eligibility
            row = await session.scalar(
                select(fe.c.case_id).where(fe.c.case_id == created["case_id"])
            )
            return row is not None

    await eventually(granted_first)
    page = await browser.get(f"/cases/{created['case_id']}")
    assert page.status_code == 200
    assert "かわぐち はなこ" in page.text
    assert "川口 花子" not in page.text and "090" not in page.text
    # A household not eligible for a parcel is not the food desk's to look up.
    assert (await browser.get(f"/cases/{not_eligible['case_id']}")).status_code == 404


async def test_admin_manages_venues_events_and_staff(browser) -> None:
    await log_in(browser, "admin")
    page = await browser.get("/admin")
    assert page.status_code == 200
    assert "クリニック コミュニティスペース" in page.text
    csrf = csrf_of(page)
    venue = await browser.post(
        "/admin/venues", data={"csrf_token": csrf, "venue_id": "test-hall", "name": "試験会場"}
    )
    assert venue.status_code == 303
    event = await browser.post(
        "/admin/events",
        data={
            "csrf_token": csrf,
            "venue_id": "test-hall",
            "event_date": "2030-01-15",
            "opens_at": "10:00",
            "closes_at": "15:00",
            "programmes": ["life_independence", "csw_participation"],
        },
    )
    assert event.status_code == 303
    duplicate = await browser.post(
        "/admin/events",
        data={
            "csrf_token": csrf,
            "venue_id": "test-hall",
            "event_date": "2030-01-15",
            "opens_at": "10:00",
            "closes_at": "15:00",
            "programmes": ["life_independence"],
        },
    )
    assert duplicate.status_code == 409
    created = await browser.post(
        "/admin/staff",
        data={
            "csrf_token": csrf,
            "username": "admin_probe",
            "display_name": "田中",
            "password": "long-enough-password",
            "roles": ["programme"],
            "programmes": ["welfare_fund"],
            "venue_id": "test-hall",
        },
    )
    assert created.status_code == 303
    edit = await browser.get("/admin/staff/admin_probe")
    assert edit.status_code == 200 and "田中" in edit.text
    updated = await browser.post(
        "/admin/staff/admin_probe",
        data={
            "csrf_token": csrf,
            "display_name": "田中 一",
            "roles": ["programme", "coordinator"],
            "programmes": ["welfare_fund"],
            "has_active": "1",
        },
    )
    assert updated.status_code == 303
    listing = await browser.get("/admin")
    assert "田中 一" in listing.text
    tanaka = httpx.AsyncClient(transport=browser._transport, base_url="http://intake.test")
    refused = await tanaka.post(
        "/api/v1/auth/token", data={"username": "admin_probe", "password": "long-enough-password"}
    )
    assert refused.status_code == 401  # deactivated: the box was left unticked
    await tanaka.aclose()


class _FormState(HTMLParser):
    """What one form of a page holds, as a browser shows it: each field's value (a select's
    selected option), the ticked boxes of each checkbox group, and each field's
    aria-describedby."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.select: str | None = None
        self.values: dict[str, str | None] = {}
        self.ticked: dict[str, set[str]] = {}
        self.described: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif not self.inside or a.get("type") == "hidden":
            return
        elif tag == "input" and a.get("type") == "checkbox":
            group = self.ticked.setdefault(str(a["name"]), set())
            if "checked" in a:
                group.add(str(a["value"]))
        elif tag in ("input", "select"):
            name = str(a["name"])
            self.values[name] = a.get("value")
            self.described[name] = a.get("aria-describedby")
            self.select = name if tag == "select" else None
        elif tag == "option" and "selected" in a and self.select is not None:
            self.values[self.select] = a.get("value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def form_state(page: httpx.Response, form_id: str) -> _FormState:
    assert f'id="{form_id}"' in page.text, page.text[:500]
    state = _FormState(form_id)
    state.feed(page.text)
    return state


async def _new_venue(browser: httpx.AsyncClient, csrf: str, name: str) -> str:
    # "zz-": after the demo venues, so that a kept choice is never the first option.
    venue_id = f"zz-{uuid.uuid4().hex[:8]}"
    saved = await browser.post(
        "/admin/venues", data={"csrf_token": csrf, "venue_id": venue_id, "name": name}
    )
    assert saved.status_code == 303
    return venue_id


async def test_a_refused_event_comes_back_with_what_was_typed(browser) -> None:
    await log_in(browser, "admin")
    csrf = csrf_of(await browser.get("/admin"))
    venue_id = await _new_venue(browser, csrf, "保持確認会場")
    typed = {
        "csrf_token": csrf,
        "venue_id": venue_id,
        "event_date": "2031-03-04",
        "opens_at": "13:30",
        "closes_at": "12:00",
        "programmes": ["welfare_fund", "csw_participation"],
    }
    refused = await browser.post("/admin/events", data=typed)
    assert refused.status_code == 422
    assert "終了時刻は開始時刻より後にしてください" in refused.text
    form = form_state(refused, "event-form")
    assert form.values == {
        "venue_id": venue_id,
        "event_date": "2031-03-04",
        "opens_at": "13:30",
        "closes_at": "12:00",
    }
    assert form.ticked["programmes"] == {"welfare_fund", "csw_participation"}
    assert form.described["closes_at"] == "closes_at-error"
    assert 'id="closes_at-error"' in refused.text
    assert form.described["opens_at"] is None  # the error is at its own field only

    # No programme: none ticked, not every one again.
    none_ticked = await browser.post(
        "/admin/events", data={**typed, "closes_at": "16:00", "programmes": []}
    )
    assert none_ticked.status_code == 422
    assert "参加する窓口を1つ以上選んでください" in none_ticked.text
    form = form_state(none_ticked, "event-form")
    assert form.ticked["programmes"] == set()
    assert form.values["opens_at"] == "13:30"
    assert 'aria-describedby="programmes-error"' in none_ticked.text

    # A date that is no date is refused at the date, the rest kept.
    bad_date = await browser.post(
        "/admin/events", data={**typed, "event_date": "2031-02-30", "closes_at": "16:00"}
    )
    assert bad_date.status_code == 422
    assert "日付を正しく入力してください" in bad_date.text
    form = form_state(bad_date, "event-form")
    assert form.described["event_date"] == "event_date-error"
    assert (form.values["venue_id"], form.values["closes_at"]) == (venue_id, "16:00")

    # A date already taken at the venue: 409, said at the date, the form as typed.
    made = await browser.post("/admin/events", data={**typed, "closes_at": "16:00"})
    assert made.status_code == 303
    taken = await browser.post(
        "/admin/events", data={**typed, "opens_at": "09:00", "closes_at": "11:30"}
    )
    assert taken.status_code == 409
    assert "この会場のこの日の相談会は既にあります" in taken.text
    form = form_state(taken, "event-form")
    assert form.values == {
        "venue_id": venue_id,
        "event_date": "2031-03-04",
        "opens_at": "09:00",
        "closes_at": "11:30",
    }
    assert form.described["event_date"] == "event_date-error"
    # The other forms are not filled in or marked by the event form's refusal.
    assert form_state(taken, "venue-form").values["venue_id"] == ""
    assert 'aria-invalid="true"' not in taken.text.split('id="event-form"')[0]


async def test_a_refused_new_account_keeps_what_was_typed_but_the_password(browser) -> None:
    await log_in(browser, "admin")
    csrf = csrf_of(await browser.get("/admin"))
    venue_id = await _new_venue(browser, csrf, "職員保持会場")
    username = f"keep_{uuid.uuid4().hex[:8]}"
    password = f"secret-{uuid.uuid4().hex}"
    typed = {
        "csrf_token": csrf,
        "username": username,
        "display_name": "<b>保持 太郎</b>",
        "password": password,
        "roles": ["programme", "coordinator"],
        "programmes": ["welfare_fund"],
        "venue_id": venue_id,
    }
    made = await browser.post("/admin/staff", data=typed)
    assert made.status_code == 303

    def kept(page: httpx.Response) -> _FormState:
        form = form_state(page, "staff-form")
        assert form.values["username"] == username
        assert form.values["display_name"] == "<b>保持 太郎</b>"
        assert form.values["venue_id"] == venue_id
        assert form.ticked["roles"] == {"programme", "coordinator"}
        assert form.ticked["programmes"] == {"welfare_fund"}
        assert form.values["password"] is None  # the field is empty
        assert password not in page.text
        # Typed markup is shown as text, never read as markup.
        assert "&lt;b&gt;保持 太郎&lt;/b&gt;" in page.text and "<b>保持" not in page.text
        return form

    taken = await browser.post("/admin/staff", data=typed)
    assert taken.status_code == 409
    assert "このユーザー名は既に使われています" in taken.text
    form = kept(taken)
    assert form.described["username"] == "username-error"
    # The password was fine but is not shown again: the field says to type it again.
    assert form.described["password"] == "password-help"
    assert "入力したパスワードは表示しません。もう一度入力してください" in taken.text

    other = {**typed, "username": f"{username}_2"}
    short = await browser.post("/admin/staff", data={**other, "password": "short"})
    assert short.status_code == 422
    assert (
        "パスワードは12文字以上にしてください（パスワードは表示しないため、もう一度入力してください）"
        in short.text
    )
    assert 'value="short"' not in short.text
    assert form_state(short, "staff-form").described["password"] == "password-error"

    no_programme = await browser.post("/admin/staff", data={**other, "programmes": []})
    assert no_programme.status_code == 422
    assert "窓口の担当者には担当窓口を1つ以上選んでください" in no_programme.text
    form = form_state(no_programme, "staff-form")
    assert form.ticked["programmes"] == set()
    assert form.ticked["roles"] == {"programme", "coordinator"}
    assert form.values["username"] == f"{username}_2"
    assert 'aria-describedby="programmes-error"' in no_programme.text

    # A value that cannot be stored is refused at its field, and the rest is kept.
    unstorable = await browser.post("/admin/staff", data={**typed, "display_name": "田中\x00"})
    assert unstorable.status_code == 422
    assert "使用できない文字が含まれています" in unstorable.text
    form = form_state(unstorable, "staff-form")
    assert form.described["display_name"] == "display_name-error"
    assert form.values["username"] == username and form.values["display_name"] == ""


async def test_a_refused_edit_comes_back_to_the_staff_page_as_typed(
    browser, intake_app: App
) -> None:
    await log_in(browser, "admin")
    csrf = csrf_of(await browser.get("/admin"))
    venue_id = await _new_venue(browser, csrf, "編集保持会場")
    username = f"edit_{uuid.uuid4().hex[:8]}"
    async with intake_app.runtime.sessions() as session, session.begin():
        await staff_service.save_staff(
            session,
            "test",
            StaffInput(
                username=username,
                display_name="元の名前",
                roles=frozenset({StaffRole.INTAKE}),
                programmes=frozenset(),
                venue_id=None,
                password="long-enough-password",
            ),
            new=True,
            outbox=intake_app.runtime.outbox,
            token_ttl_seconds=3600,
        )
    password = f"new-{uuid.uuid4().hex}"
    typed = {
        "csrf_token": csrf,
        "display_name": "新しい 名前",
        "password": password,
        "roles": ["programme"],
        "programmes": [],
        "venue_id": venue_id,
        "has_active": "1",  # and "active" unticked
    }
    refused = await browser.post(f"/admin/staff/{username}", data=typed)
    assert refused.status_code == 422
    assert "窓口の担当者には担当窓口を1つ以上選んでください" in refused.text
    assert f'action="/admin/staff/{username}"' in refused.text  # the edit page, not /admin
    form = form_state(refused, "staff-form")
    assert form.values["display_name"] == "新しい 名前"
    assert form.values["venue_id"] == venue_id
    assert form.ticked == {"roles": {"programme"}, "programmes": set(), "active": set()}
    assert 'aria-describedby="programmes-error"' in refused.text
    assert form.values["password"] is None and password not in refused.text
    assert form.described["password"] == "password-help"

    short = await browser.post(
        f"/admin/staff/{username}",
        data={**typed, "programmes": ["welfare_fund"], "active": "on", "password": "short"},
    )
    assert short.status_code == 422
    assert "パスワードは12文字以上にしてください（パスワードは表示しないため" in short.text
    form = form_state(short, "staff-form")
    assert form.described["password"] == "password-error"
    assert form.ticked["programmes"] == {"welfare_fund"} and form.ticked["active"] == {"on"}
    assert form.values["display_name"] == "新しい 名前"

    async with intake_app.runtime.sessions() as session:
        person = await staff_service.get_staff(session, username)
    assert (person["display_name"], person["roles"], person["active"]) == (
        "元の名前",
        ["intake"],
        True,
    )  # nothing saved


async def test_non_admins_cannot_reach_admin(browser) -> None:
    await log_in(browser, "uketsuke")
    assert (await browser.get("/admin")).status_code == 403
    assert (await browser.get("/admin/staff/admin")).status_code == 403


async def test_concerns_can_be_corrected_on_the_case_page(browser) -> None:
    await log_in(browser, "uketsuke")
    page = await browser.get("/cases/new")
    form = sheet(
        csrf_of(page),
        "00000000-0000-4000-8000-0000000fac75",
        **{"resident.name_kana": "ふくしま よしこ"},
    )
    case_url = (await browser.post("/cases/new", data=form)).headers["location"]
    case = await browser.get(case_url)
    assert "相談内容・緊急の状況を変更する" in case.text
    bad = await browser.post(
        case_url + "/facts", data={"csrf_token": csrf_of(case), "concerns": [], "most_pressing": ""}
    )
    assert bad.status_code == 422 and "相談内容を1つ以上選んでください" in bad.text
    good = await browser.post(
        case_url + "/facts",
        data={
            "csrf_token": csrf_of(case),
            "concerns": ["isolation", "health"],
            "most_pressing": "health",
        },
    )
    assert good.status_code == 303
    after = await browser.get(case_url)
    assert "健康・医療" in after.text and "相談内容を変更" in after.text  # and in the audit trail


async def test_the_preview_shows_where_routing_would_send_the_case(
    browser, intake_app: App
) -> None:
    """A stand-in for routing's explain endpoint: what intake sends, and how it shows the answer."""
    import asyncio
    import json

    from tsunagu.intake.adapters.routing_preview import RoutingPreview

    seen: dict[str, object] = {}
    decision = {
        "rule_version": "2026.1",
        "programmes": ["life_independence", "csw_participation"],
        "lead": "life_independence",
        "roles": {"life_independence": "lead", "csw_participation": "member"},
        "reasons": {
            "life_independence": [
                {"code": "concern", "params": {"concern": "income_shortfall"}},
                {"code": "lead_most_pressing", "params": {"concern": "income_shortfall"}},
            ],
            "csw_participation": [{"code": "concern", "params": {"concern": "isolation"}}],
        },
        "awaiting_consent": [],
        "food_parcel_eligible": True,
        "compound": False,
        "urgent": False,
        "external": [],
    }

    async def routing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        length = int(
            next(
                h.split(":")[1]
                for h in head.split("\r\n")
                if h.lower().startswith("content-length")
            )
        )
        seen["head"] = head
        seen["body"] = json.loads(await reader.readexactly(length))
        payload = json.dumps(decision).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(payload)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + payload
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(routing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state = intake_app.app.state.intake
    original = state.preview
    state.preview = RoutingPreview(f"http://127.0.0.1:{port}")
    try:
        await log_in(browser, "uketsuke")
        page = await browser.get("/cases/new")
        form = sheet(csrf_of(page), "00000000-0000-4000-8000-00000000b00c", action="preview")
        preview = await browser.post("/cases/new", data=form)
    finally:
        state.preview = original
        server.close()
        await server.wait_closed()
    assert preview.status_code == 200
    assert "振り分けの見込み" in preview.text
    assert "生活自立サポートセンター" in preview.text and "主担当" in preview.text
    assert "食料品の配布対象" in preview.text
    assert "主担当: 一番困っていること「生活費が足りない」" in preview.text
    assert "authorization: bearer " in str(seen["head"]).lower()
    sent = seen["body"]
    # The event contract's facts (an age, not a birth date) and the sharing basis.
    assert sent["facts"]["age"] == 78
    assert sent["facts"]["lives_alone"] is True
    assert sent["facts"]["concerns"] == ["income_shortfall", "isolation"]
    assert sent["sharing_basis"] in {"consent", "support_meeting", "none"}
    assert "川口" not in json.dumps(sent, ensure_ascii=False)  # no personal data for a preview


def from_address(intake_app: App, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=intake_app.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://intake.test")


async def test_guesses_from_one_address_wait_longer_and_longer_but_never_lock_the_person_out(
    intake_app: App,
) -> None:
    username = f"guess-{uuid.uuid4().hex[:8]}"
    staff = StaffInput(username, "鍵 試験", frozenset({StaffRole.INTAKE}), frozenset(), None,
                       password="first-password-0")  # fmt: skip
    async with intake_app.runtime.sessions() as session, session.begin():
        await staff_service.save_staff(
            session, "admin", staff, new=True, outbox=intake_app.runtime.outbox,
            token_ttl_seconds=3600,
        )  # fmt: skip
    guesser = from_address(intake_app, "192.0.2.66")
    person = from_address(intake_app, "198.51.100.7")

    async def attempt(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
        return await client.post(
            "/api/v1/auth/token", data={"username": name, "password": password}
        )

    answers = [await attempt(guesser, username, f"wrong-{n}") for n in range(12)]
    statuses = [a.status_code for a in answers]
    assert statuses[:4] == [401] * 4  # three failures are free, the fourth starts the waits
    assert 429 in statuses and set(statuses) <= {401, 429}, statuses
    waits = [int(a.headers["retry-after"]) for a in answers if a.status_code == 429]
    assert all(w >= 1 for w in waits)
    # The right password from here waits too: guessing machines learn nothing by being right.
    assert (await attempt(guesser, username, "first-password-0")).status_code == 429

    # The person, elsewhere, signs in at once.
    signed_in = await attempt(person, username, "first-password-0")
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["pending"] == "password_change"  # an admin chose the password

    # A username nobody has is answered the same way: the waits tell nothing about who exists.
    nobody = f"nobody-{uuid.uuid4().hex[:8]}"
    other = from_address(intake_app, "192.0.2.67")
    unknown = [(await attempt(other, nobody, "wrong")).status_code for _ in range(5)]
    assert unknown == [401] * 4 + [429]
    for client in (guesser, person, other):
        await client.aclose()


async def test_a_login_form_left_open_too_long_says_so_and_gives_a_fresh_form(browser) -> None:
    page = await browser.get("/login")
    stale = csrf_of(page)
    browser.cookies.clear()  # the form's cookie expired after its hour
    refused = await browser.post(
        "/login",
        data={"username": "uketsuke", "password": PASSWORD, "csrf_token": stale, "next": "/"},
    )
    assert refused.status_code == 400
    assert "ログイン画面を開いてから時間がたった" in refused.text
    assert "ユーザー名・パスワード・確認コードのいずれかが違います" not in refused.text
    assert 'value="uketsuke"' in refused.text  # what was typed is kept
    fresh = csrf_of(refused)
    assert fresh != stale
    again = await browser.post(
        "/login",
        data={"username": "uketsuke", "password": PASSWORD, "csrf_token": fresh, "next": "/"},
    )
    assert again.status_code == 303
