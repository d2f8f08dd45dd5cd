"""The event day board: who is waiting, in consultation or done, and each programme's queue."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.service_layer.cases import BOARD_STATUSES
from tsunagu.shared.contracts.codes import ReferralStatus

#: Referral statuses that put a case in a programme's booth queue.
_QUEUED = (
    ReferralStatus.PENDING.value,
    ReferralStatus.ESCALATED.value,
    ReferralStatus.ACCEPTED.value,
    ReferralStatus.IN_PROGRESS.value,
)


async def events_on(session: AsyncSession, day: date, venue_id: str | None) -> list[dict[str, Any]]:
    e, v = tables.consultation_event, tables.venue
    stmt = (
        select(e, v.c.name.label("venue_name"))
        .join(v, v.c.venue_id == e.c.venue_id)
        .where(e.c.event_date == day)
        .order_by(e.c.venue_id)
    )
    if venue_id is not None:
        stmt = stmt.where(e.c.venue_id == venue_id)
    return [dict(row._mapping) for row in await session.execute(stmt)]


async def board(session: AsyncSession, event: dict[str, Any]) -> dict[str, Any]:
    """Columns by board status and per-programme queues for one event (no audit: see caller)."""
    c, r, f = tables.case, tables.resident, tables.referral
    rows = await session.execute(
        select(
            c.c.case_id,
            c.c.case_number,
            c.c.board_status,
            c.c.created_at,
            c.c.urgent_no_food_today,
            c.c.urgent_eviction_within_7_days,
            c.c.concerns,
            r.c.name_kana,
        )
        .join(r, r.c.resident_id == c.c.resident_id)
        .where(c.c.event_id == event["event_id"])
        .order_by(c.c.created_at)
    )
    columns: dict[str, list[dict[str, Any]]] = {status: [] for status in BOARD_STATUSES}
    cases: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = dict(row._mapping)
        item["urgent"] = row.urgent_no_food_today or row.urgent_eviction_within_7_days
        cases[row.case_id] = item
        columns.setdefault(row.board_status, []).append(item)
    queues: dict[str, list[dict[str, Any]]] = {p: [] for p in event["programmes"]}
    if cases:
        referrals = await session.execute(
            select(f.c.case_id, f.c.programme, f.c.status, f.c.role, f.c.submitted_action)
            .where(f.c.case_id.in_(list(cases)), f.c.status.in_(_QUEUED))
            .order_by(f.c.deadline_at.asc().nulls_last())
        )
        for ref in referrals:
            queues.setdefault(ref.programme, []).append(
                {**cases[ref.case_id], "status": ref.status, "role": ref.role}
            )
    return {"event": event, "columns": columns, "queues": queues, "total": len(cases)}
