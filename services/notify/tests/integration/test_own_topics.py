"""Notify reads its own topics (ADR 25); what it applied from the topics it read before is
not applied again when their twins arrive."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from tsunagu.notify.bootstrap import NotifyRuntime
from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import INTAKE_CONTACT, ROUTING_NOTIFY

from .conftest import TestClock, eventually, publish
from .events import case_created, case_routed, new_case

pytestmark = pytest.mark.integration

DAY = datetime(2025, 6, 3, 10, 0, tzinfo=TOKYO)


def twin_of(envelope: Envelope, original_id: str) -> Envelope:
    """``envelope`` as intake or routing write it: the twin of an event on their case topic."""
    return envelope.model_copy(update={"causation_id": original_id})


async def applied(runtime: NotifyRuntime, consumer: str, event_ids: set[str]) -> set[str]:
    i = runtime.tables.inbox
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(i.c.event_id).where(i.c.consumer == consumer, i.c.event_id.in_(event_ids))
        )
    return set(rows)


async def held(runtime: NotifyRuntime, case_id: str) -> dict[str, Any]:
    t, d = runtime.tables.case_contact, runtime.tables.delivery
    async with runtime.sessions() as session:
        contact = await session.scalar(select(t.c.case_id).where(t.c.case_id == case_id))
        deliveries = list(await session.scalars(select(d.c.template).where(d.c.case_id == case_id)))
    return {"contact": contact, "deliveries": deliveries}


async def test_twins_of_events_notify_applied_before_the_switch_are_not_applied_again(
    start_notify, settings, smtp, producer, consumer_name
):
    runtime = await start_notify(TestClock(DAY), smtp_port=smtp.port)
    # Case A: the notify of the previous release applied its case_created and case_routed from
    # intake.case.v1 and routing.case.v1 (their ids are in its inbox). Case B: it did not.
    old_case, old_number = new_case()
    originals = {"created": str(uuid.uuid4()), "routed": str(uuid.uuid4())}
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            insert(runtime.tables.inbox),
            [
                {"consumer": consumer_name, "event_id": originals["created"],
                 "event_type": "case_created"},
                {"consumer": consumer_name, "event_id": originals["routed"],
                 "event_type": "case_routed"},
            ],
        )  # fmt: skip
    old_twins = [
        twin_of(
            case_created(settings, old_case, old_number, channels=["email"], email="a@x.example"),
            originals["created"],
        ),
        twin_of(case_routed(old_case, old_number), originals["routed"]),
    ]
    new_case_id, new_number = new_case()
    new_twins = [
        twin_of(
            case_created(
                settings, new_case_id, new_number, channels=["email"], email="b@x.example"
            ),
            str(uuid.uuid4()),
        ),
        twin_of(case_routed(new_case_id, new_number), str(uuid.uuid4())),
    ]
    for case_id, (created, routed) in ((old_case, old_twins), (new_case_id, new_twins)):
        await publish(producer, INTAKE_CONTACT.name, created, case_id)
        await publish(producer, ROUTING_NOTIFY.name, routed, case_id)

    # B's twins are applied: the resident's acknowledgement is planned.
    async def acknowledged() -> bool:
        return "acknowledgement" in (await held(runtime, new_case_id))["deliveries"]

    await eventually(acknowledged)
    # A's twins are recorded as read, and nothing of them applied: no second acknowledgement.
    twin_ids = {e.event_id for e in old_twins}

    async def read() -> bool:
        return await applied(runtime, consumer_name, twin_ids) == twin_ids

    await eventually(read)
    assert await held(runtime, old_case) == {"contact": None, "deliveries": []}
