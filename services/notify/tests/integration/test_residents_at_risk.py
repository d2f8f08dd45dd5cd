"""Residents at risk (DV, or a case staff marked sensitive): the safe channel alone, or nothing.

The case that started this: a resident with a ``dv_abuse`` concern chose SMS and letter; the
SMS failed and notify fell back to a letter to the home address, where the abuser may live.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from tsunagu.notify.bootstrap import NotifyRuntime
from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import INTAKE_CONTACT, ROUTING_NOTIFY

from .conftest import TestClock, eventually, publish, resident_key
from .events import case_created, case_routed, new_case, referral_status_changed

pytestmark = pytest.mark.integration

DAY = datetime(2025, 6, 3, 10, 0, tzinfo=TOKYO)
HOME = "〒332-0031\n埼玉県川口市青木2-2-2\nコーポ青木 101"


async def resident_deliveries(runtime: NotifyRuntime, case_id: str) -> list[dict[str, Any]]:
    d = runtime.tables.delivery
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(d).where(d.c.case_id == case_id, d.c.recipient_kind == "resident")
        )
    return [dict(r._mapping) for r in rows]


async def attempts_of(runtime: NotifyRuntime, delivery_id: str) -> list[tuple[str, str]]:
    a = runtime.tables.delivery_attempt
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(a.c.channel, a.c.status)
            .where(a.c.delivery_id == delivery_id)
            .order_by(a.c.attempt, a.c.id)
        )
    return [(r.channel, r.status) for r in rows]


async def letters_and_calls(runtime: NotifyRuntime, case_id: str) -> int:
    letter, call = runtime.tables.letter, runtime.tables.phone_call
    async with runtime.sessions() as session:
        letters = (await session.execute(select(letter).where(letter.c.case_id == case_id))).all()
        calls = (await session.execute(select(call).where(call.c.case_id == case_id))).all()
    return len(letters) + len(calls)


async def _take_in_and_route(producer: Any, created: Envelope, case_id: str, number: str) -> list:
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    routed = case_routed(case_id, number)
    accepted = referral_status_changed(case_id, number, "accepted")
    await publish(producer, ROUTING_NOTIFY.name, routed, case_id)
    await publish(producer, ROUTING_NOTIFY.name, accepted, case_id)
    return [
        resident_key(routed, case_id, "acknowledgement"),
        resident_key(accepted, case_id, "programme_accepted"),
    ]


async def test_a_dv_case_with_a_home_address_and_no_safe_contact_gets_nothing(
    start_notify, settings, smtp, sms, producer
):
    runtime = await start_notify(
        TestClock(DAY), smtp_port=smtp.port, sms_endpoint=sms.url, sms_api_key="k"
    )
    case_id, number = new_case()
    phone, email = "09011112222", f"{case_id}@resident.example.jp"
    created = case_created(
        settings,
        case_id,
        number,
        channels=["sms", "letter", "email", "phone"],
        phone=phone,
        email=email,
        address=HOME,
        at_risk=True,
        safe_channel="none",
    )
    keys = await _take_in_and_route(producer, created, case_id, number)

    async def both_decided() -> list[dict[str, Any]] | None:
        rows = await resident_deliveries(runtime, case_id)
        return rows if {r["dedup_key"] for r in rows} == set(keys) else None

    rows = await eventually(both_decided)
    assert {(r["status"], r["reason"]) for r in rows} == {("suppressed", "no_safe_contact")}
    await asyncio.sleep(1.5)  # many sender rounds
    rows = await resident_deliveries(runtime, case_id)
    assert [r for r in rows if r["status"] != "suppressed"] == []
    assert sms.to(phone) == []
    assert smtp.mails(to=email) == []
    assert await letters_and_calls(runtime, case_id) == 0


async def test_a_failed_safe_sms_never_becomes_a_letter(
    start_notify, settings, smtp, sms, producer
):
    sms.status = 400  # refused for good: before, notify went on to the next channel, a letter
    runtime = await start_notify(
        TestClock(DAY), smtp_port=smtp.port, sms_endpoint=sms.url, sms_api_key="k"
    )
    case_id, number = new_case()
    phone = "09033334444"
    created = case_created(
        settings,
        case_id,
        number,
        channels=["sms", "letter"],
        phone=phone,
        address=HOME,
        at_risk=True,
        safe_channel="sms",
    )
    keys = await _take_in_and_route(producer, created, case_id, number)

    async def both_failed() -> list[dict[str, Any]] | None:
        rows = await resident_deliveries(runtime, case_id)
        done = [r for r in rows if r["status"] == "permanent_failure"]
        return rows if len(done) == len(keys) else None

    rows = await eventually(both_failed)
    for row in rows:
        assert row["channels"] == ["sms"]  # planned on the safe channel alone
        assert await attempts_of(runtime, row["id"]) == [("sms", "permanent_failure")]
    assert len(sms.to(phone)) == 2
    assert await letters_and_calls(runtime, case_id) == 0


async def test_a_safe_email_is_the_only_channel_used(start_notify, settings, smtp, sms, producer):
    runtime = await start_notify(
        TestClock(DAY), smtp_port=smtp.port, sms_endpoint=sms.url, sms_api_key="k"
    )
    case_id, number = new_case()
    phone, email = "09055556666", f"{case_id}@resident.example.jp"
    created = case_created(
        settings,
        case_id,
        number,
        channels=["sms", "letter", "email"],
        phone=phone,
        email=email,
        address=HOME,
        at_risk=True,  # staff marked the case sensitive
        safe_channel="email",
    )
    keys = await _take_in_and_route(producer, created, case_id, number)
    for key in keys:
        await eventually(lambda key=key: _sent(runtime, case_id, key))
    assert len(smtp.mails(to=email)) == 2
    assert sms.to(phone) == []
    assert await letters_and_calls(runtime, case_id) == 0


async def _sent(runtime: NotifyRuntime, case_id: str, key: str) -> bool:
    rows = await resident_deliveries(runtime, case_id)
    return any(r["dedup_key"] == key and r["status"] == "sent" for r in rows)


async def test_marked_at_risk_after_planning_the_old_channels_are_dropped(
    start_notify, settings, smtp, sms, producer
):
    # Planned at night for the morning by letter and SMS; before morning staff marked the case
    # sensitive with no safe contact. The sender reads the case as it is when it sends.
    night = datetime(2025, 6, 2, 23, 0, tzinfo=TOKYO)
    clock = TestClock(night)
    runtime = await start_notify(clock, smtp_port=smtp.port, sms_endpoint=sms.url, sms_api_key="k")
    case_id, number = new_case()
    phone = "09077778888"
    created = case_created(
        settings, case_id, number, channels=["letter", "sms"], phone=phone, address=HOME
    )
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    routed = case_routed(case_id, number)
    await publish(producer, ROUTING_NOTIFY.name, routed, case_id)
    key = resident_key(routed, case_id, "acknowledgement")

    async def scheduled() -> bool:
        rows = await resident_deliveries(runtime, case_id)
        return any(r["dedup_key"] == key and r["status"] == "scheduled" for r in rows)

    await eventually(scheduled)
    consent = intake.Consent.model_validate(created.data["consent"])
    changed = intake.ContactConsentChanged(
        case_id=case_id,
        consent=consent.model_copy(update={"at_risk": True, "safe_channel": None}),
        previous_basis=consent.basis,
    )
    envelope = Envelope(
        event_type=intake.CONTACT_CONSENT_CHANGED,
        producer="intake",
        data=changed.model_dump(mode="json"),
    )
    await publish(producer, INTAKE_CONTACT.name, envelope, case_id)
    t = runtime.tables.case_contact

    async def marked() -> bool:
        async with runtime.sessions() as session:
            return bool(await session.scalar(select(t.c.at_risk).where(t.c.case_id == case_id)))

    await eventually(marked)
    clock.set(datetime(2025, 6, 3, 8, 0, tzinfo=TOKYO))

    async def suppressed() -> dict[str, Any] | None:
        rows = await resident_deliveries(runtime, case_id)
        hit = [r for r in rows if r["dedup_key"] == key and r["status"] == "suppressed"]
        return hit[0] if hit else None

    decision = await eventually(suppressed)
    assert decision["reason"] == "no_safe_contact"
    assert sms.to(phone) == []
    assert await letters_and_calls(runtime, case_id) == 0
