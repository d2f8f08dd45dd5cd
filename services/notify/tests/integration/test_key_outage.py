"""Intake unreachable when a resident's message is due: the contact cannot be opened, nothing is
sent, and nothing is recorded as an attempt. The message goes out once intake answers again,
as its first and only attempt (a real HTTP key server stands in for intake's key endpoint)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
import structlog
from sqlalchemy import select

from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.shared.contracts.topics import INTAKE_CONTACT, ROUTING_NOTIFY

from .conftest import TestClock, eventually, publish, resident_key
from .events import case_created, case_routed, new_case

pytestmark = pytest.mark.integration

DAY = datetime(2025, 6, 3, 10, 0, tzinfo=TOKYO)


async def test_a_message_due_while_intake_is_down_is_sent_once_when_it_is_back(
    start_notify, settings, smtp, producer, key_server
):
    key_server.up = False
    runtime = await start_notify(
        TestClock(DAY),
        settings.model_copy(update={"internal_urls": {"intake": key_server.url}}),
        smtp_port=smtp.port,
    )
    case_id, number = new_case()
    resident_id = f"r-{case_id}"
    resident = f"{case_id}@resident.example.jp"
    created = case_created(settings, case_id, number, channels=["email"], email=resident)
    contact = {"name": "山田 花子", "name_kana": "ヤマダ ハナコ", "email": resident}
    created.data["contact_sealed"] = key_server.keys.seal(resident_id, "contact", contact)
    routed = case_routed(case_id, number)
    dedup_key = resident_key(routed, case_id, "acknowledgement")
    d = runtime.tables.delivery

    async def acknowledgement() -> dict[str, Any] | None:
        async with runtime.sessions() as session:
            row = (await session.execute(select(d).where(d.c.dedup_key == dedup_key))).first()
        return dict(row._mapping) if row is not None else None

    with structlog.testing.capture_logs() as logs:
        await publish(producer, INTAKE_CONTACT.name, created, case_id)
        await publish(producer, ROUTING_NOTIFY.name, routed, case_id)
        await eventually(acknowledgement)
        # The sender claims it, cannot get the key, and puts it back: about every 5 s. Seen
        # between two claims, it is scheduled again, with no attempt counted.

        async def put_back() -> dict[str, Any] | None:
            row = await acknowledgement()
            again = key_server.requests >= 2 and row is not None
            return row if again and row["status"] == "scheduled" else None

        waiting = await eventually(put_back, timeout=30, interval=0.05)
        assert waiting["attempts"] == 0 and waiting["lease_token"] is None
        assert smtp.mails(to=resident) == []

        key_server.up = True
        [mail] = await eventually(
            lambda: _value(smtp.mails(to=resident, dedup_key=dedup_key)), timeout=30
        )
        assert "山田 花子 様" in mail.text
        sent = await eventually(lambda: _sent(acknowledgement))
        assert sent["attempts"] == 1
        await asyncio.sleep(1.0)
        assert len(smtp.mails(to=resident)) == 1
    events = [e["event"] for e in logs]
    assert events.count("deliveries_waiting_for_keys") == 1, events
    assert "delivery_failed_unexpectedly" not in events
    assert "delivery_lease_expired" not in events
    attempts = runtime.tables.delivery_attempt
    async with runtime.sessions() as session:
        recorded = (
            await session.execute(select(attempts).where(attempts.c.delivery_id == sent["id"]))
        ).all()
    assert [r.status for r in recorded] == ["sent"]


async def _value(value: Any) -> Any:
    return value


async def _sent(read: Any) -> dict[str, Any] | None:
    row = await read()
    return row if row is not None and row["status"] == "sent" else None
