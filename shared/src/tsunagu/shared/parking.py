"""Events that arrive before the case they are about: parked, then applied when it arrives.

A consumer may meet an event about a case it has not heard of: the case's own event was
dead-lettered and is replayed later, the topics are not ordered with each other, or a replay
starts in the middle. Dropping such an event (and recording it as applied) loses it for good.
Instead the handler parks it, in the same transaction as its inbox row, and the handler of the
case's arrival takes what was parked for it and applies it there (ADR 10).

Each service that parks has a ``parked_event`` table of this shape in its own schema.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import (
    Column,
    DateTime,
    Executable,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.shared.contracts.envelope import Envelope, utcnow
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)


def parked_event_table(metadata: MetaData) -> Table:
    return Table(
        "parked_event",
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("case_id", String(64), nullable=False, index=True),
        Column("event_type", String(64), nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("parked_at", DateTime(timezone=True), nullable=False),
    )


def create_parked_event_table(schema: str) -> None:
    """The migration step that creates the table above in ``schema`` (each service that parks
    events calls it from its own revision)."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        "parked_event",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("envelope", postgresql.JSONB(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_parked_event"),
        schema=schema,
    )
    op.create_index("ix_parked_event_case_id", "parked_event", ["case_id"], schema=schema)


def drop_parked_event_table(schema: str) -> None:
    from alembic import op

    op.drop_index("ix_parked_event_case_id", table_name="parked_event", schema=schema)
    op.drop_table("parked_event", schema=schema)


async def park(
    session: AsyncSession,
    table: Table,
    envelope: Envelope,
    case_id: str,
    now: datetime | None = None,
) -> None:
    """Keep ``envelope`` until ``case_id`` is known (once, whatever the redeliveries)."""
    await session.execute(
        insert(table)
        .values(
            event_id=envelope.event_id,
            case_id=case_id,
            event_type=envelope.event_type,
            envelope=envelope.model_dump(mode="json"),
            parked_at=now or utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[table.c.event_id])
    )
    log.info("event_parked_until_case_known", event_type=envelope.event_type, case_id=case_id)


async def take_parked(session: AsyncSession, table: Table, case_id: str) -> list[Envelope]:
    """What was parked for ``case_id``, oldest event first, removed from the table (the caller
    applies it in the same transaction, so a rollback parks it again)."""
    rows = (await session.execute(_taking(table), {"case_id": case_id})).all()
    envelopes = [
        (Envelope.model_validate(row.envelope), row.parked_at, row.event_id) for row in rows
    ]
    envelopes.sort(key=lambda item: (item[0].occurred_at, item[1], item[2]))
    if envelopes:
        log.info("parked_events_taken", case_id=case_id, count=len(envelopes))
    return [envelope for envelope, _, _ in envelopes]


@cache
def _taking(table: Table) -> Executable:
    """``take_parked``'s statement, built once per table: routing runs it for every case it
    routes, so it comes from SQLAlchemy's compiled cache (ADR 22)."""
    return (
        delete(table)
        .where(table.c.case_id == bindparam("case_id"))
        .returning(table.c.envelope, table.c.parked_at, table.c.event_id)
    )


async def parked_count(session: AsyncSession, table: Table, case_id: str) -> int:
    rows = await session.execute(select(table.c.event_id).where(table.c.case_id == case_id))
    return len(rows.all())
