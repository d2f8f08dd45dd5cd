"""Resident messages: never at night, never against their choice, by the channel they chose."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from tsunagu.notify.adapters.channels import delivery_token
from tsunagu.notify.bootstrap import NotifyRuntime
from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.shared.auth import COOKIE_NAME, CSRF_FIELD, Principal, issue_token
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.codes import ContactChannel
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.routing import REFERRAL_ESCALATED, ReferralEscalated
from tsunagu.shared.contracts.topics import FOOD, INTAKE_CONTACT, ROUTING_NOTIFY
from tsunagu.shared.internal import caller_headers
from tsunagu.shared.settings import Settings

from .conftest import TestClock, api, eventually, publish, resident_key
from .events import (
    DEADLINE,
    case_created,
    case_routed,
    new_case,
    referral_status_changed,
    stock_low,
)

pytestmark = pytest.mark.integration

NIGHT = datetime(2025, 6, 2, 23, 0, tzinfo=TOKYO)  # a Monday, 23:00 in Tokyo
EIGHT = datetime(2025, 6, 3, 8, 0, tzinfo=TOKYO)
DAY = datetime(2025, 6, 3, 10, 0, tzinfo=TOKYO)


async def delivery(runtime: NotifyRuntime, dedup_key: str) -> dict[str, Any] | None:
    d = runtime.tables.delivery
    async with runtime.sessions() as session:
        row = (await session.execute(select(d).where(d.c.dedup_key == dedup_key))).first()
    return dict(row._mapping) if row is not None else None


def status_is(runtime: NotifyRuntime, dedup_key: str, status: str) -> Any:
    async def check() -> Any:
        row = await delivery(runtime, dedup_key)
        return row if row is not None and row["status"] == status else None

    return check


def _now(value: Any) -> Any:
    async def check() -> Any:
        return value()

    return check


@dataclass(frozen=True)
class NightCase:
    case_id: str
    number: str
    resident: str  # the resident's email address
    created: Envelope
    key: str  # the dedup key of the resident's acknowledgement


async def case_taken_at_night(settings: Any, producer: Any) -> NightCase:
    """A case whose resident chose email, created and routed (publishing both events)."""
    case_id, number = new_case()
    resident = f"{case_id}@resident.example.jp"
    created = case_created(settings, case_id, number, channels=["email"], email=resident)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    routed = case_routed(case_id, number)
    await publish(producer, ROUTING_NOTIFY.name, routed, case_id)
    key = resident_key(routed, case_id, "acknowledgement")
    return NightCase(case_id, number, resident, created, key)


async def test_an_event_at_23_tokyo_reaches_the_resident_at_8(
    start_notify, settings, smtp, producer
):
    clock = TestClock(NIGHT)
    runtime = await start_notify(clock, smtp_port=smtp.port)
    night = await case_taken_at_night(settings, producer)
    case_id, number, resident, key = night.case_id, night.number, night.resident, night.key

    scheduled = await eventually(lambda: delivery(runtime, key))
    assert scheduled["status"] == "scheduled"
    assert scheduled["not_before"] == EIGHT
    assert scheduled["next_attempt_at"] == EIGHT
    await asyncio.sleep(1.0)  # ten sender polls in the night
    assert smtp.mails(to=resident) == []

    # The contact is kept sealed at rest.
    t = runtime.tables.case_contact
    async with runtime.sessions() as session:
        sealed = (
            await session.execute(select(t.c.contact_sealed).where(t.c.case_id == case_id))
        ).scalar_one()
    assert resident not in sealed and "山田" not in sealed

    clock.set(EIGHT)
    [mail] = await eventually(_now(lambda: smtp.mails(to=resident, dedup_key=key)))
    assert mail.subject.startswith("ご相談を受け付けました")
    assert "山田 花子 様" in mail.text  # opened from the sealed contact only to send
    assert f"受付番号：{number}" in mail.text
    assert "2025年6月7日" in mail.text  # lead deadline (4 June) + 3 days
    sent = await eventually(status_is(runtime, key, "sent"))
    assert sent["attempts"] == 1
    assert sent["sent_at"] >= EIGHT


async def test_a_resident_who_says_do_not_contact_overnight_gets_nothing_in_the_morning(
    start_notify, settings, smtp, producer
):
    # Planned at night for 08:00 by email; before 08:00 the resident chose "do not contact".
    # The sender reads consent as it is when it claims the delivery, not as it was planned.
    clock = TestClock(NIGHT)
    runtime = await start_notify(clock, smtp_port=smtp.port)
    night = await case_taken_at_night(settings, producer)
    case_id, resident, key = night.case_id, night.resident, night.key
    assert (await eventually(lambda: delivery(runtime, key)))["status"] == "scheduled"

    consent = intake.Consent.model_validate(night.created.data["consent"])
    changed = intake.ContactConsentChanged(
        case_id=case_id,
        consent=consent.model_copy(update={"contact_channels": [ContactChannel.NONE]}),
        previous_basis=consent.basis,
    )
    envelope = Envelope(
        event_type=intake.CONTACT_CONSENT_CHANGED,
        producer="intake",
        data=changed.model_dump(mode="json"),
    )
    await publish(producer, INTAKE_CONTACT.name, envelope, case_id)
    t = runtime.tables.case_contact

    async def consent_is_none() -> bool:
        async with runtime.sessions() as session:
            channels = await session.scalar(select(t.c.channels).where(t.c.case_id == case_id))
        return channels == ["none"]

    await eventually(consent_is_none)

    clock.set(EIGHT)
    decision = await eventually(status_is(runtime, key, "suppressed"))
    assert decision["reason"] == "do_not_contact"
    assert smtp.mails(to=resident) == []


async def test_do_not_contact_sends_nothing_and_records_the_decision(
    start_notify, settings, smtp, producer
):
    runtime = await start_notify(TestClock(DAY), smtp_port=smtp.port)
    case_id, number = new_case()
    resident = f"{case_id}@resident.example.jp"
    # The resident gave an email address, and chose "do not contact".
    created = case_created(settings, case_id, number, channels=["none"], email=resident)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    routed = case_routed(case_id, number)
    await publish(producer, ROUTING_NOTIFY.name, routed, case_id)
    accepted = referral_status_changed(case_id, number, "accepted")
    await publish(producer, ROUTING_NOTIFY.name, accepted, case_id)

    keys = [
        resident_key(routed, case_id, "acknowledgement"),
        resident_key(accepted, case_id, "programme_accepted"),
    ]
    for key in keys:
        decision = await eventually(status_is(runtime, key, "suppressed"))
        assert decision["reason"] == "do_not_contact"
        assert decision["next_attempt_at"] is None
        assert decision["attempts"] == 0
    await asyncio.sleep(1.0)
    assert smtp.mails(to=resident) == []

    async with api(runtime) as client:
        body = (await client.get("/api/v1/deliveries", params={"case_id": case_id})).json()
    resident_views = [v for v in body if v["recipient_kind"] == "resident"]
    assert len(resident_views) >= 2
    assert {(v["status"], v["reason"]) for v in resident_views} == {
        ("suppressed", "do_not_contact")
    }


async def test_a_routing_event_before_its_case_waits_for_the_case(
    start_notify, settings, smtp, producer
):
    runtime = await start_notify(TestClock(DAY), smtp_port=smtp.port)
    case_id, number = new_case()
    resident = f"{case_id}@resident.example.jp"
    routed = case_routed(case_id, number)
    await publish(producer, ROUTING_NOTIFY.name, routed, case_id)

    p = runtime.tables.parked_event

    async def parked() -> Any:
        async with runtime.sessions() as session:
            return (await session.execute(select(p).where(p.c.event_id == routed.event_id))).first()

    await eventually(parked)
    key = resident_key(routed, case_id, "acknowledgement")
    assert await delivery(runtime, key) is None

    created = case_created(settings, case_id, number, channels=["email"], email=resident)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    [mail] = await eventually(_now(lambda: smtp.mails(to=resident, dedup_key=key)))
    assert mail.subject.startswith("ご相談を受け付けました")
    assert await parked() is None


async def test_sms_refused_falls_back_to_a_letter_for_staff_to_post(
    start_notify, settings, smtp, sms, producer
):
    sms.status = 400  # the provider refuses this number: permanent, try the next channel
    runtime = await start_notify(
        TestClock(DAY), smtp_port=smtp.port, sms_endpoint=sms.url, sms_api_key="sms-key"
    )
    case_id, number = new_case()
    phone = "09012345678"
    address = "〒332-0031\n埼玉県川口市青木2-2-2\nコーポ青木 101"
    created = case_created(
        settings, case_id, number, channels=["letter", "sms"], phone=phone, address=address
    )
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    accepted = referral_status_changed(case_id, number, "accepted", programme="elderly_support")
    await publish(producer, ROUTING_NOTIFY.name, accepted, case_id)

    key = resident_key(accepted, case_id, "programme_accepted")
    sent = await eventually(status_is(runtime, key, "sent"))
    assert sent["channels"] == ["sms", "letter"]  # written channels, in planning's order
    token = delivery_token(key)
    [request] = [r for r in sms.to(phone) if r["body"]["idempotency_key"] == token]
    assert request["headers"]["Authorization"] == "Bearer sms-key"

    async with api(runtime) as client:
        views = (await client.get("/api/v1/deliveries", params={"case_id": case_id})).json()
        [view] = [v for v in views if v["delivery_id"] == sent["id"]]
        assert [(a["channel"], a["status"], a["error"]) for a in view["attempt_log"]] == [
            ("sms", "permanent_failure", "http_400"),
            ("letter", "sent", None),
        ]
        letters = (await client.get("/api/v1/letters")).json()
        [letter] = [q for q in letters if q["delivery_id"] == sent["id"]]
        page = await client.get("/letters", headers={"Accept": "text/html"})
        assert page.status_code == 200 and letter["letter_id"] in page.text
        document = await client.get(f"/letters/{letter['letter_id']}")
        assert "山田 花子 様" in document.text
        assert "<div>埼玉県川口市青木2-2-2</div>" in document.text
        assert "地域包括支援センターがお引き受けすることになりました" in document.text
        assert document.headers["cache-control"] == "no-store"
        download = await client.get(f"/letters/{letter['letter_id']}", params={"download": "true"})
        assert download.headers["content-disposition"].startswith("attachment;")

        posted = await client.post(f"/letters/{letter['letter_id']}/posted")
        assert posted.status_code == 303
        queue = (await client.get("/api/v1/letters")).json()
        assert letter["letter_id"] not in [q["letter_id"] for q in queue]

        # Opening a letter (name and address) is in notify's audit with the case id, and
        # intake, answering the auditor, finds it there by case id (ADR 13).
        intake_caller = caller_headers(Settings(service="intake", env="test"))
        found = await client.get(
            "/internal/v1/audit", params={"case_id": case_id}, headers=intake_caller
        )
        assert found.status_code == 200, found.text
        assert [(e["actor"], e["action"], e["case_id"]) for e in found.json()] == [
            ("sato", "notify.letter_view", case_id)
        ] * 2  # the page and the download
        assert all(e["hash"] for e in found.json())  # chained before answering
        elsewhere = await client.get(
            "/internal/v1/audit", params={"case_id": "case-nobody"}, headers=intake_caller
        )
        assert elsewhere.json() == []
        # Only intake may ask; a staff token is not a service credential.
        assert (await client.get("/internal/v1/audit")).status_code == 401
        routing_caller = caller_headers(Settings(service="routing", env="test"))
        assert (await client.get("/internal/v1/audit", headers=routing_caller)).status_code == 401

    # Sealed at rest: the table holds no address.
    t = runtime.tables.letter
    async with runtime.sessions() as session:
        sealed = (
            await session.execute(select(t.c.document_sealed).where(t.c.id == letter["letter_id"]))
        ).scalar_one()
    assert "青木" not in sealed


async def test_phone_calls_go_on_the_call_list_with_a_script(
    start_notify, settings, smtp, producer
):
    runtime = await start_notify(TestClock(DAY), smtp_port=smtp.port)
    case_id, number = new_case()
    phone = f"048{int(case_id[-6:], 16) % 10_000_000:07d}"
    created = case_created(
        settings,
        case_id,
        number,
        channels=["phone"],
        phone=phone,
        language="vi",
        contact_time="morning",
    )
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    routed = case_routed(case_id, number)
    await publish(producer, ROUTING_NOTIFY.name, routed, case_id)
    sent = await eventually(
        status_is(runtime, resident_key(routed, case_id, "acknowledgement"), "sent")
    )
    assert sent["last_channel"] == "phone"

    principal = Principal(username="sato", roles=frozenset({"intake"}), csrf="csrf-of-the-session")
    cookie = issue_token(principal, settings.signing_key(), 3600)
    async with api(runtime, token=False) as browser:
        browser.cookies.set(COOKIE_NAME, cookie)
        page = await browser.get("/calls")
        assert page.status_code == 200
        assert phone in page.text
        assert "通訳が必要です" in page.text
        assert "希望の時間帯：午前" in page.text
        assert "ご本人であることを確認してから" in page.text  # the script
        t = runtime.tables.phone_call
        async with runtime.sessions() as session:
            call_id = (
                await session.execute(select(t.c.id).where(t.c.delivery_id == sent["id"]))
            ).scalar_one()
        assert f'action="/calls/{call_id}/done"' in page.text

        refused = await browser.post(f"/calls/{call_id}/done", data={})
        assert refused.status_code == 403  # a cookie-authenticated form needs its CSRF token
        done = await browser.post(
            f"/calls/{call_id}/done", data={CSRF_FIELD: "csrf-of-the-session"}
        )
        assert done.status_code == 303
        assert call_id not in (await browser.get("/calls")).text

    a = runtime.tables.audit_log
    async with runtime.sessions() as session:
        seen = (
            await session.execute(
                select(a.c.actor, a.c.detail).where(a.c.action == "notify.calls_view")
            )
        ).all()
    # Each showing of the call list names the cases whose numbers it opened.
    assert ("sato", case_id) in {(r.actor, c) for r in seen for c in r.detail["case_ids"]}


async def test_staff_hear_declines_escalations_and_low_stock(
    start_notify, settings, smtp, producer
):
    await start_notify(smtp_port=smtp.port)
    case_id, number = new_case()
    intake_staff = f"suzuki-{case_id[-4:]}"
    created = case_created(settings, case_id, number, channels=["none"], taken_by=intake_staff)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    declined = referral_status_changed(case_id, number, "declined", programme="welfare_fund")
    await publish(producer, ROUTING_NOTIFY.name, declined, case_id)
    escalated = ReferralEscalated(
        case_id=case_id,
        case_number=number,
        referral_id="r-1",
        programme="csw_participation",
        urgent=False,
        deadline_at=DEADLINE,
        escalated_at=DEADLINE,
    )
    envelope = Envelope(
        event_type=REFERRAL_ESCALATED, producer="routing", data=escalated.model_dump(mode="json")
    )
    await publish(producer, ROUTING_NOTIFY.name, envelope, case_id)
    food_event, venue = f"ev-{case_id}", f"venue-{case_id}"
    await publish(producer, FOOD.name, stock_low(food_event, venue), food_event)

    staff = f"{intake_staff}@staff.tsunagu.example"
    declined_key = f"{declined.event_id}:intake_staff:{intake_staff}:referral_declined"
    [declined_mail] = await eventually(_now(lambda: smtp.mails(to=staff, dedup_key=declined_key)))
    assert declined_mail.subject == f"紹介が辞退されました（受付番号 {number}）"
    supervisor = "csw_participation-supervisor@team.tsunagu.example"
    escalated_key = f"{envelope.event_id}:supervisor:csw_participation:referral_escalated"
    [escalated_mail] = await eventually(
        _now(lambda: smtp.mails(to=supervisor, dedup_key=escalated_key))
    )
    assert "【期限超過】" in escalated_mail.subject
    lead = "food-lead@staff.tsunagu.example"
    [stock_mail] = await eventually(_now(lambda: smtp.mails(to=lead, containing=venue)))
    assert stock_mail.subject == f"食料品の在庫が少なくなっています：{venue}／乳幼児向け"


async def test_a_consent_change_before_its_case_is_parked_and_an_older_case_created_never_wins(
    start_notify, settings, smtp, producer
):
    # case_created was dead-lettered (a fault) and is replayed after the resident's change:
    # the change waits for the case, and the older case_created does not undo it.
    runtime = await start_notify(TestClock(DAY), smtp_port=smtp.port)
    case_id, number = new_case()
    resident = f"{case_id}@resident.example.jp"
    created = case_created(settings, case_id, number, channels=["email"], email=resident)
    consent = intake.Consent.model_validate(created.data["consent"])
    changed = Envelope(
        event_type=intake.CONTACT_CONSENT_CHANGED,
        producer="intake",
        data=intake.ContactConsentChanged(
            case_id=case_id,
            consent=consent.model_copy(update={"contact_channels": [ContactChannel.NONE]}),
            previous_basis=consent.basis,
        ).model_dump(mode="json"),
    )
    assert changed.occurred_at > created.occurred_at
    await publish(producer, INTAKE_CONTACT.name, changed, case_id)
    p, t = runtime.tables.parked_event, runtime.tables.case_contact

    async def parked() -> Any:
        async with runtime.sessions() as session:
            return (
                await session.execute(select(p).where(p.c.event_id == changed.event_id))
            ).first()

    async def channels() -> Any:
        async with runtime.sessions() as session:
            return await session.scalar(select(t.c.channels).where(t.c.case_id == case_id))

    await eventually(parked)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    await eventually(lambda: _is(channels(), ["none"]))
    assert await parked() is None

    # The same case_created published again under a new id (as a re-publish would): older
    # than the consent held, so the consent stays.
    again = created.model_copy(update={"event_id": f"again-{created.event_id}"})
    await publish(producer, INTAKE_CONTACT.name, again, case_id)
    routed = case_routed(case_id, number)
    await publish(producer, ROUTING_NOTIFY.name, routed, case_id)
    decision = await eventually(
        status_is(runtime, resident_key(routed, case_id, "acknowledgement"), "suppressed")
    )
    assert decision["reason"] == "do_not_contact"
    assert await channels() == ["none"]
    assert smtp.mails(to=resident) == []


async def _is(value: Any, expected: Any) -> bool:
    return (await value) == expected


STAFF_ITO = "ito@staff.tsunagu.example"


async def test_the_coordinator_of_a_compound_case_hears_of_declines_and_closures(
    start_notify, settings, smtp, producer
):
    await start_notify(smtp_port=smtp.port)
    case_id, number = new_case()
    created = case_created(settings, case_id, number, channels=["none"], taken_by="ito")
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    routed = case_routed(case_id, number, lead="csw_outreach", coordinator="csw_outreach")
    await publish(producer, ROUTING_NOTIFY.name, routed, case_id)
    declined = referral_status_changed(case_id, number, "declined", programme="welfare_fund")
    closed = referral_status_changed(case_id, number, "closed", programme="life_independence")
    await publish(producer, ROUTING_NOTIFY.name, declined, case_id)
    await publish(producer, ROUTING_NOTIFY.name, closed, case_id)

    team = "csw_outreach@team.tsunagu.example"
    for envelope, template, subject in (
        (declined, "referral_declined", "紹介が辞退されました"),
        (closed, "referral_closed", "紹介が終結しました"),
    ):
        key = f"{envelope.event_id}:team:csw_outreach:{template}"
        [mail] = await eventually(_now(lambda key=key: smtp.mails(to=team, dedup_key=key)))
        assert mail.subject.startswith(subject)
        staff_key = f"{envelope.event_id}:intake_staff:ito:{template}"
        await eventually(_now(lambda k=staff_key: smtp.mails(to=STAFF_ITO, dedup_key=k)))
