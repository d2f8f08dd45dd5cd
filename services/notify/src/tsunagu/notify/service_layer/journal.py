"""The record of what happened to a delivery: attempt rows and ``delivery_attempted`` events.

Both are written in the caller's transaction, together with the delivery's new status, so the
table, the staff pages and ``notify.delivery.v1`` never disagree. Neither holds an address or
a message: only codes, ids and the error code of a failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.notify.adapters.orm import NotifyTables
from tsunagu.shared.contracts.notify import DELIVERY_ATTEMPTED, DeliveryAttempted
from tsunagu.shared.contracts.topics import NOTIFY_DELIVERY
from tsunagu.shared.outbox import OutboxWriter

#: The channel named in the record of a decision not to send.
NO_CHANNEL = "none"


@dataclass(frozen=True)
class Entry:
    """One attempt (or, with ``attempt`` 0, one decision) of a delivery, for ``record_many``."""

    delivery: Mapping[str, Any]
    status: str
    attempt: int
    channel: str
    at: datetime
    error: str | None = None
    reference: str | None = None


async def record(
    session: AsyncSession,
    tables: NotifyTables,
    outbox: OutboxWriter,
    delivery: Mapping[str, Any],
    *,
    status: str,
    attempt: int,
    channel: str,
    at: datetime,
    error: str | None = None,
    reference: str | None = None,
) -> None:
    """Keep one attempt (or, with ``attempt`` 0, one decision) and publish it."""
    entry = Entry(delivery, status, attempt, channel, at, error, reference)
    await record_many(session, tables, outbox, [entry])


async def record_many(
    session: AsyncSession, tables: NotifyTables, outbox: OutboxWriter, entries: Sequence[Entry]
) -> None:
    """Keep several attempts and decisions with one insert, and publish each (the outbox
    writes a transaction's events with one statement at commit)."""
    attempts = [
        {
            "delivery_id": e.delivery["id"],
            "attempt": e.attempt,
            "channel": e.channel,
            "status": e.status,
            "error": e.error,
            "reference": e.reference,
            "at": e.at,
        }
        for e in entries
        if e.attempt > 0
    ]
    if attempts:
        await session.execute(tables.delivery_attempt.insert(), attempts)
    for entry in entries:
        await _publish(outbox, session, entry)


async def _publish(outbox: OutboxWriter, session: AsyncSession, entry: Entry) -> None:
    delivery, status, attempt, channel = entry.delivery, entry.status, entry.attempt, entry.channel
    error, at = entry.error, entry.at
    event = DeliveryAttempted(
        delivery_id=delivery["id"],
        case_id=delivery["case_id"],
        dedup_key=delivery["dedup_key"],
        recipient_kind=delivery["recipient_kind"],
        channel=channel,
        template=delivery["template"],
        status=status,  # type: ignore[arg-type]
        attempt=attempt,
        error=error,
        at=at,
    )
    envelope = outbox.envelope(DELIVERY_ATTEMPTED, event.model_dump(mode="json"))
    await outbox.add(
        session,
        topic=NOTIFY_DELIVERY.name,
        aggregatetype="delivery",
        # The topic is keyed by case; deliveries without a case keep their own order.
        aggregateid=delivery["case_id"] or delivery["id"],
        envelope=envelope,
    )
