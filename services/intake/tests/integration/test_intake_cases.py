"""Intake's API on real Kafka and PostgreSQL: cases, idempotency, events, read model, roles."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from intake_helpers import (
    ADMIN_TOTP_SECRET,
    App,
    case_body,
    case_routed,
    eventually,
    publish,
    read_topic,
    todays_event,
    token,
)
from sqlalchemy import func, select, update

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.auth import COOKIE_NAME
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.intake import CaseCreated, ConsentChanged, ReferralResponseSubmitted
from tsunagu.shared.contracts.topics import (
    FOOD,
    INTAKE_CASE,
    INTAKE_REFERRAL_RESPONSE,
    ROUTING_CASE,
)
from tsunagu.shared.crypto import Sealer, resident_of
from tsunagu.shared.internal import IntakeKeys, KeyUnavailable

pytestmark = pytest.mark.integration


async def create(app: App, headers: dict[str, str], body: dict, key: str | None = None):
    extra = {"Idempotency-Key": key} if key else {}
    return await app.client.post("/api/v1/cases", json=body, headers=headers | extra)


async def count_cases(app: App, **where) -> int:
    c = tables.case
    stmt = select(func.count()).select_from(c)
    for column, value in where.items():
        stmt = stmt.where(c.c[column] == value)
    async with app.runtime.sessions() as session:
        return int(await session.scalar(stmt) or 0)


async def wait_sent(app: App) -> None:
    await eventually(lambda: _zero(app.runtime.relay.unsent_count()))


async def _zero(count) -> bool:
    return await count == 0


async def routed_case(app: App) -> tuple[str, str, Envelope]:
    """A case taken in by uketsuke and routed (by us, standing in for routing)."""
    intake = await token(app.client, "uketsuke")
    created = (await create(app, intake, case_body())).json()
    routed = case_routed(created["case_id"], created["case_number"], todays_event())
    await publish(app.settings.kafka_bootstrap, ROUTING_CASE.name, created["case_id"], routed)

    async def referrals_arrived() -> bool:
        response = await app.client.get(f"/api/v1/cases/{created['case_id']}", headers=intake)
        return len(response.json()["referrals"]) == 2

    await eventually(referrals_arrived)
    return created["case_id"], created["case_number"], routed


# --- creating a case ------------------------------------------------------------------------


async def test_a_created_case_produces_exactly_one_case_created(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    response = await create(intake_app, headers, case_body())
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["case_number"].startswith("K-")
    await wait_sent(intake_app)

    events = await read_topic(
        intake_app.settings.kafka_bootstrap, INTAKE_CASE.name, key=created["case_id"]
    )
    assert [e.event_type for e in events] == ["case_created"]
    data = CaseCreated.model_validate(events[0].data)
    assert data.case_number == created["case_number"]
    assert data.facts.age == 78  # born 1948-05-01: the age on the event date travels...
    assert "birth_date" not in str(events[0].data)  # ...never the birth date itself
    assert "川口" not in str(events[0].data)  # names travel sealed
    # Sealed with the resident's own keys, opened as notify and the food desk would (ADR 12).
    transport = httpx.ASGITransport(app=intake_app.app)
    as_notify = Sealer(IntakeKeys(intake_app.settings.model_copy(update={"service": "notify"}),
                                  transport=transport))  # fmt: skip
    contact = await as_notify.open(data.contact_sealed or "")
    assert contact["name"] == "川口 花子"
    assert resident_of(data.contact_sealed) == data.resident_id
    with pytest.raises(KeyUnavailable):  # notify may not have the furigana key
        await as_notify.open(data.kana_sealed or "")
    as_food = Sealer(IntakeKeys(intake_app.settings.model_copy(update={"service": "food_distribution"}),
                                transport=transport))  # fmt: skip
    assert await as_food.open(data.kana_sealed or "") == "かわぐち はなこ"
    with pytest.raises(KeyUnavailable):
        await as_food.open(data.contact_sealed or "")
    assert data.taken_by == "uketsuke"
    assert data.consent.basis == "consent"
    assert (data.venue_id, data.venue_name) == ("aeon-mall", "イオンモール")  # for other desks


async def test_a_retried_post_with_the_same_key_creates_one_case(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body, key = case_body(), str(uuid.uuid4())
    first = await create(intake_app, headers, body, key)
    again = await create(intake_app, headers, body, key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count_cases(intake_app, case_id=first.json()["case_id"]) == 1

    other = case_body(notes="別の内容")
    conflict = await create(intake_app, headers, other, key)
    assert conflict.status_code == 409

    await wait_sent(intake_app)
    events = await read_topic(
        intake_app.settings.kafka_bootstrap, INTAKE_CASE.name, key=first.json()["case_id"]
    )
    assert len(events) == 1


async def test_five_concurrent_retries_create_one_case(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body, key = case_body(), str(uuid.uuid4())
    responses = await asyncio.gather(*(create(intake_app, headers, body, key) for _ in range(5)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["case_id"] for r in responses}) == 1
    phone = body["resident"]["phone"]
    r = tables.resident
    async with intake_app.runtime.sessions() as session:
        residents = await session.scalar(
            select(func.count()).select_from(r).where(r.c.phone == phone)
        )
    assert residents == 1
    assert await count_cases(intake_app, case_id=responses[0].json()["case_id"]) == 1


async def test_cases_taken_at_once_get_distinct_rising_numbers(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    responses = await asyncio.gather(*(create(intake_app, headers, case_body()) for _ in range(12)))
    assert {r.status_code for r in responses} == {201}
    numbers = sorted(r.json()["case_number"] for r in responses)
    assert len(set(numbers)) == 12
    serials = [int(n.rsplit("-", 1)[1]) for n in numbers]
    # Other tests share the day's counter; these twelve were taken back to back.
    assert serials == list(range(serials[0], serials[0] + 12))
    day = numbers[0].split("-")[1]
    assert all(n.startswith(f"K-{day}-") for n in numbers)


async def test_the_same_resident_is_offered_and_can_be_linked(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body = case_body(resident__name_kana="サイタマ タロウ", resident__birth_date="1960-02-03")
    first = (await create(intake_app, headers, body)).json()

    # Written differently: half-width katakana, era date, phone with full-width digits.
    response = await intake_app.client.get(
        "/api/v1/residents/matches",
        params={"name_kana": "ｻｲﾀﾏ ﾀﾛｳ", "birth_date": "昭和35年2月3日"},
        headers=headers,
    )
    assert response.status_code == 200
    matches = response.json()["matches"]
    assert len(matches) == 1
    assert set(matches[0]["reasons"]) == {"furigana", "birth_date"}
    resident_id = matches[0]["resident_id"]

    again = await intake_app.client.post(
        "/api/v1/cases", params={"resident_id": resident_id}, json=body, headers=headers
    )
    assert again.status_code == 201
    case = (
        await intake_app.client.get(f"/api/v1/cases/{again.json()['case_id']}", headers=headers)
    ).json()
    assert case["resident_id"] == resident_id
    first_case = (
        await intake_app.client.get(f"/api/v1/cases/{first['case_id']}", headers=headers)
    ).json()
    assert case["household_id"] == first_case["household_id"]


# --- the read model: routing and food report back -------------------------------------------


async def test_case_routed_fills_the_referrals(intake_app: App) -> None:
    case_id, case_number, routed = await routed_case(intake_app)
    headers = await token(intake_app.client, "uketsuke")
    case = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
    by_programme = {r["programme"]: r for r in case["referrals"]}
    assert by_programme["life_independence"]["role"] == "lead"
    assert by_programme["life_independence"]["status"] == "pending"
    assert by_programme["life_independence"]["reasons"][0] == {
        "code": "concern",
        "params": {"concern": "income_shortfall"},
    }
    assert by_programme["csw_participation"]["role"] == "member"
    # Routing found the case eligible, but who gets a parcel is food distribution's to say:
    # intake shows its answer alone (below, eligibility_granted), never a second opinion.
    assert case["food_parcel_eligible"] is False

    # The same event again (at-least-once delivery) changes nothing.
    await publish(intake_app.settings.kafka_bootstrap, ROUTING_CASE.name, case_id, routed)
    status = Envelope(
        event_type="referral_status_changed",
        producer="routing",
        data={
            "case_id": case_id,
            "case_number": case_number,
            "referral_id": by_programme["csw_participation"]["referral_id"],
            "programme": "csw_participation",
            "status": "accepted",
            "previous_status": "pending",
            "by": "csw_participation",
            "allowed_actions": ["start"],
        },
    )
    await publish(intake_app.settings.kafka_bootstrap, ROUTING_CASE.name, case_id, status)

    async def accepted() -> bool:
        case = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
        statuses = {r["programme"]: r["status"] for r in case["referrals"]}
        return statuses == {"life_independence": "pending", "csw_participation": "accepted"}

    await eventually(accepted)
    case = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
    actions = {r["programme"]: r["allowed_actions"] for r in case["referrals"]}
    assert actions == {"life_independence": ["accept", "decline"], "csw_participation": ["start"]}

    # Routing's lifecycle does not let an accepted referral be declined or closed before it
    # is started: intake refuses at once, with the reason, instead of sending what routing
    # would only refuse.
    csw = await token(intake_app.client, "csw_participation")
    url = f"/api/v1/referrals/{by_programme['csw_participation']['referral_id']}/respond"
    for action, text in (("decline", {"reason": "x"}), ("close", {"outcome": "x"})):
        refused = await intake_app.client.post(url, json={"action": action, **text}, headers=csw)
        assert refused.status_code == 409, refused.text
        assert "受付済み" in refused.json()["message"]
        assert "支援を始める" in refused.json()["message"]
    await wait_sent(intake_app)
    sent = await read_topic(
        intake_app.settings.kafka_bootstrap, INTAKE_REFERRAL_RESPONSE.name, key=case_id
    )
    assert sent == []


async def test_a_rerouted_case_shows_the_new_and_withdrawn_referrals(intake_app: App) -> None:
    case_id, _, routed = await routed_case(intake_app)
    headers = await token(intake_app.client, "uketsuke")
    before = {r["programme"]: r for r in routed.data["referrals"]}
    kept = {**before["life_independence"], "role": "member"}
    withdrawn = {**before["csw_participation"], "status": "withdrawn", "allowed_actions": []}
    added = {
        "referral_id": str(uuid.uuid4()),
        "programme": "disability_support",
        "role": "member",
        "status": "pending",
        "reasons": [{"code": "concern", "params": {"concern": "disability"}}],
        "allowed_actions": ["accept", "decline"],
    }
    coordinator = {**added, "referral_id": str(uuid.uuid4()), "programme": "csw_outreach"}
    coordinator["role"] = "coordinator"
    rerouted = Envelope(
        event_type="case_rerouted",
        producer="routing",
        data={
            **{k: routed.data[k] for k in ("case_id", "case_number", "event_id", "rule_version")},
            "lead": "csw_outreach",
            "coordinator": "csw_outreach",
            "compound": True,
            "urgent": False,
            "food_parcel_eligible": True,
            "referrals": [coordinator, kept, added, withdrawn],
            "added": [coordinator["referral_id"], added["referral_id"]],
            "withdrawn": [withdrawn["referral_id"]],
        },
    )
    await publish(intake_app.settings.kafka_bootstrap, ROUTING_CASE.name, case_id, rerouted)

    async def shown() -> bool:
        case = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
        return len(case["referrals"]) == 4

    await eventually(shown)
    case = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
    now = {
        r["programme"]: (r["role"], r["status"], r["allowed_actions"]) for r in case["referrals"]
    }
    assert now == {
        "csw_outreach": ("coordinator", "pending", ["accept", "decline"]),
        "life_independence": ("member", "pending", ["accept", "decline"]),
        "disability_support": ("member", "pending", ["accept", "decline"]),
        "csw_participation": ("member", "withdrawn", []),
    }
    bearer = headers["Authorization"].removeprefix("Bearer ")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=intake_app.app),
        base_url="http://intake.test",
        cookies={COOKIE_NAME: bearer},
    ) as browser:
        page = await browser.get(f"/cases/{case_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text[:300]
    assert "訂正後の振り分け" in page.text
    assert "取り下げ" in page.text
    assert "障害者相談支援センター" in page.text
    # The withdrawn programme no longer holds the case.
    csw = await token(intake_app.client, "csw_participation")
    hidden = await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=csw)
    assert hidden.status_code == 404


async def test_food_distribution_reports_eligibility_and_handout(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body = case_body(concerns=["isolation"], most_pressing="isolation")
    created = (await create(intake_app, headers, body)).json()
    case = (
        await intake_app.client.get(f"/api/v1/cases/{created['case_id']}", headers=headers)
    ).json()
    assert case["food_parcel_eligible"] is False
    granted = Envelope(
        event_type="eligibility_granted",
        producer="food_distribution",
        data={
            "case_id": created["case_id"],
            "household_id": case["household_id"],
            "event_id": case["event_id"],
            "basis": "manual",
            "reason": "staff decision",
        },
    )
    await publish(intake_app.settings.kafka_bootstrap, FOOD.name, created["case_id"], granted)

    async def eligible() -> bool:
        response = await intake_app.client.get(
            f"/api/v1/cases/{created['case_id']}", headers=headers
        )
        return response.json()["food_parcel_eligible"] is True

    await eventually(eligible)


# --- roles ----------------------------------------------------------------------------------


async def test_programme_members_see_only_cases_referred_to_them(intake_app: App) -> None:
    case_id, _, _ = await routed_case(intake_app)
    fund = await token(intake_app.client, "welfare_fund")
    life = await token(intake_app.client, "life_independence")
    food = await token(intake_app.client, "food")

    assert (
        await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=fund)
    ).status_code == 404
    missing = f"/api/v1/cases/{uuid.uuid4()}"
    assert (await intake_app.client.get(missing, headers=fund)).status_code == 404  # same answer

    mine = await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=life)
    assert mine.status_code == 200
    assert mine.json()["name"] == "川口 花子"

    # Not (yet) eligible for a parcel: not the food desk's to look up (its narrow view of an
    # eligible household: test_intake_pages).
    not_food = await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=food)
    assert not_food.status_code == 404

    listed = (
        await intake_app.client.get("/api/v1/cases", headers=fund, params={"page_size": 100})
    ).json()
    assert case_id not in {item["case_id"] for item in listed["items"]}
    listed = (
        await intake_app.client.get("/api/v1/cases", headers=life, params={"page_size": 100})
    ).json()
    assert case_id in {item["case_id"] for item in listed["items"]}
    food_list = (await intake_app.client.get("/api/v1/cases", headers=food)).json()
    assert all(
        set(item) <= {"case_id", "case_number", "name_kana", "food_parcel_eligible"}
        for item in food_list["items"]
    )

    # Only intake staff take residents in.
    refused = await create(intake_app, life, case_body())
    assert refused.status_code == 403


async def test_a_programme_responds_to_its_own_referrals_only(intake_app: App) -> None:
    case_id, _, _ = await routed_case(intake_app)
    intake = await token(intake_app.client, "uketsuke")
    case = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=intake)).json()
    referral_id = {r["programme"]: r["referral_id"] for r in case["referrals"]}["csw_participation"]
    url = f"/api/v1/referrals/{referral_id}/respond"

    other = await token(intake_app.client, "welfare_fund")
    assert (
        await intake_app.client.post(url, json={"action": "accept"}, headers=other)
    ).status_code == 404
    assert (
        await intake_app.client.post(url, json={"action": "accept"}, headers=intake)
    ).status_code == 403

    csw = await token(intake_app.client, "csw_participation")
    no_reason = await intake_app.client.post(url, json={"action": "decline"}, headers=csw)
    assert no_reason.status_code == 422
    assert no_reason.json()["fields"][0]["loc"][-1] == "reason"
    not_yet = await intake_app.client.post(url, json={"action": "start"}, headers=csw)
    assert not_yet.status_code == 409

    accepted = await intake_app.client.post(url, json={"action": "accept"}, headers=csw)
    assert accepted.status_code == 202, accepted.text
    case = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=intake)).json()
    pending = {r["programme"]: r["submitted_action"] for r in case["referrals"]}
    assert pending["csw_participation"] == "accept"  # shown as awaiting confirmation

    await wait_sent(intake_app)
    events = await read_topic(
        intake_app.settings.kafka_bootstrap, INTAKE_REFERRAL_RESPONSE.name, key=case_id
    )
    assert len(events) == 1
    response = ReferralResponseSubmitted.model_validate(events[0].data)
    assert (response.referral_id, response.action, response.staff) == (
        referral_id,
        "accept",
        "csw_participation",
    )


async def test_withdrawing_consent_tells_the_other_services(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    created = (await create(intake_app, headers, case_body())).json()
    url = f"/api/v1/cases/{created['case_id']}/consent"
    withdrawn = await intake_app.client.post(url, json={"action": "withdraw"}, headers=headers)
    assert withdrawn.status_code == 200
    assert withdrawn.json()["consent"]["basis"] == "none"
    again = await intake_app.client.post(url, json={"action": "withdraw"}, headers=headers)
    assert again.json()["changed"] is False

    await wait_sent(intake_app)
    events = await read_topic(
        intake_app.settings.kafka_bootstrap, INTAKE_CASE.name, key=created["case_id"]
    )
    assert [e.event_type for e in events] == ["case_created", "consent_changed"]
    changed = ConsentChanged.model_validate(events[1].data)
    assert changed.withdrawn
    assert changed.changed_by == "uketsuke"


async def test_views_and_changes_are_audited_without_personal_data(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    created = (await create(intake_app, headers, case_body())).json()
    await intake_app.client.get(f"/api/v1/cases/{created['case_id']}", headers=headers)
    a = tables.audit_log
    async with intake_app.runtime.sessions() as session:
        rows = (
            await session.execute(
                select(a).where(a.c.case_id == created["case_id"]).order_by(a.c.audit_id)
            )
        ).all()
    assert [(row.actor, row.action) for row in rows] == [
        ("uketsuke", "case.create"),
        ("uketsuke", "case.view"),
    ]
    assert "川口" not in str([row.detail for row in rows])
    assert "resident.name" in rows[0].detail["fields"]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"concerns": ["flying"]}, ["body", "concerns", 0]),
        ({"resident__name_kana": "Hanako"}, ["body", "resident", "name_kana"]),
        ({"resident__birth_date": "昭和99年1月1日"}, ["body", "resident", "birth_date"]),
        ({"event_id": "no-such-event"}, ["body", "event_id"]),
        ({"resident__name": "川口\x00花子"}, ["body", "resident", "name"]),
    ],
)
async def test_bad_input_is_refused_naming_the_field(intake_app: App, change, field) -> None:
    headers = await token(intake_app.client, "uketsuke")
    response = await create(intake_app, headers, case_body(**change))
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["loc"] == field


async def test_oversized_and_unauthenticated_requests_are_refused(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    huge = case_body(notes="あ" * 300_000)
    assert (await create(intake_app, headers, huge)).status_code == 413
    assert (await create(intake_app, {}, case_body())).status_code == 401
    wrong = await intake_app.client.post(
        "/api/v1/auth/token", data={"username": "uketsuke", "password": "wrong"}
    )
    assert wrong.status_code == 401


async def test_cases_list_filters_and_pages(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    event = "higashikawaguchi"
    body = case_body(event_id=todays_event(event))
    for _ in range(3):
        body["resident"]["phone"] = case_body()["resident"]["phone"]
        assert (await create(intake_app, headers, body)).status_code == 201
    page = await intake_app.client.get(
        "/api/v1/cases",
        params={"event_id": todays_event(event), "page_size": 2, "status": "waiting"},
        headers=headers,
    )
    assert page.status_code == 200
    listed = page.json()
    assert listed["total"] >= 3
    assert len(listed["items"]) == 2
    events = (await intake_app.client.get("/api/v1/events", headers=headers)).json()
    assert {e["venue_name"] for e in events} >= {"イオンモール", "東川口駅前行政センター"}


async def test_correcting_the_concerns_publishes_case_updated(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    created = (await create(intake_app, headers, case_body())).json()
    url = f"/api/v1/cases/{created['case_id']}"
    facts = {
        "concerns": ["income_shortfall", "isolation", "housing"],
        "most_pressing": "housing",
        "urgent": {"no_food_today": False, "eviction_within_7_days": True},
    }
    response = await intake_app.client.patch(url, json=facts, headers=headers)
    assert response.status_code == 200 and response.json()["changed"] is True
    again = await intake_app.client.patch(url, json=facts, headers=headers)
    assert again.json()["changed"] is False
    wrong = await intake_app.client.patch(
        url, json=facts | {"most_pressing": "debt_arrears"}, headers=headers
    )
    assert wrong.status_code == 422
    assert wrong.json()["fields"][0]["loc"] == ["body", "most_pressing"]
    life = await token(intake_app.client, "life_independence")
    assert (await intake_app.client.patch(url, json=facts, headers=life)).status_code == 404

    await wait_sent(intake_app)
    events = await read_topic(
        intake_app.settings.kafka_bootstrap, INTAKE_CASE.name, key=created["case_id"]
    )
    assert [e.event_type for e in events] == ["case_created", "case_updated"]
    assert events[1].data["facts"]["urgent"]["eviction_within_7_days"] is True
    assert events[1].data["facts"]["age"] == 78


async def test_demo_data_can_be_created_twice(intake_app: App) -> None:
    from tsunagu.intake.demo import VENUES, WEEKS_AHEAD, demo_staff, seed

    # A venue without a reading (a database seeded before venues had them) gets the demo's; a
    # reading an admin changed stays.
    v = tables.venue
    aeon, clinic = VENUES[0], VENUES[2]
    async with intake_app.runtime.sessions() as session, session.begin():
        await session.execute(
            update(v).where(v.c.venue_id == aeon.venue_id).values(name_kana="いおん もーる")
        )
        await session.execute(
            update(v).where(v.c.venue_id == clinic.venue_id).values(name_kana=None)
        )
    await seed(intake_app.settings, totp_secret=ADMIN_TOTP_SECRET)  # seeded once already
    async with intake_app.runtime.sessions() as session, session.begin():
        readings = dict((await session.execute(select(v.c.venue_id, v.c.name_kana))).all())
        await session.execute(
            update(v).where(v.c.venue_id == aeon.venue_id).values(name_kana=aeon.name_kana)
        )
    assert readings[aeon.venue_id] == "いおん もーる"
    assert readings[clinic.venue_id] == clinic.name_kana
    async with intake_app.runtime.sessions() as session:
        venues = await session.scalar(select(func.count()).select_from(tables.venue))
        demo_names = [p.username for p in demo_staff()]
        staff = await session.scalar(
            select(func.count())
            .select_from(tables.staff_user)
            .where(tables.staff_user.c.username.in_(demo_names))
        )
        events = await session.scalar(
            select(func.count())
            .select_from(tables.consultation_event)
            .where(tables.consultation_event.c.venue_id.in_([v.venue_id for v in VENUES]))
        )
    assert venues >= len(VENUES)
    # admin, uketsuke, food, haifu, manager, auditor, and one per programme (7)
    assert staff == len(demo_names) == 13
    assert events >= len(VENUES) * (WEEKS_AHEAD + 1)
