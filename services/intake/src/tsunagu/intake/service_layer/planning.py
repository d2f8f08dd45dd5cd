"""Events as the public sees them, and event planning: capacity, booths, rosters, notes."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables


def _public(row: Any) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "event_date": row.event_date,
        "opens_at": row.opens_at,
        "closes_at": row.closes_at,
        "programmes": list(row.programmes),
        "venue_name": row.venue_name,
        "address": row.address,
        "access": row.access,
    }


def _public_select() -> Any:
    e, v = tables.consultation_event, tables.venue
    return select(
        e.c.event_id,
        e.c.event_date,
        e.c.opens_at,
        e.c.closes_at,
        e.c.programmes,
        v.c.name.label("venue_name"),
        v.c.address,
        v.c.access,
    ).join(v, v.c.venue_id == e.c.venue_id)


async def upcoming_events(session: AsyncSession, today: date, limit: int = 30) -> list[dict]:
    """Events from today on: what the residents' page lists (nothing about any resident)."""
    e = tables.consultation_event
    stmt = (
        _public_select()
        .where(e.c.event_date >= today)
        .order_by(e.c.event_date, e.c.opens_at, e.c.venue_id)
        .limit(limit)
    )
    return [_public(row) for row in await session.execute(stmt)]


async def public_event(session: AsyncSession, event_id: str) -> dict[str, Any] | None:
    e = tables.consultation_event
    row = (await session.execute(_public_select().where(e.c.event_id == event_id))).first()
    return None if row is None else _public(row)
