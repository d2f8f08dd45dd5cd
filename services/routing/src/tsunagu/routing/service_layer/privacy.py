"""A resident's erasure and disclosure, as far as routing is concerned (ADR 12).

Routing holds no name or contact detail; what a resident told staff in free text reaches it
only as a decline reason or an outcome. On ``resident_erased`` those are emptied, pending
deadlines stop (no escalation of a case that no longer exists), events parked for the case are
dropped, never applied, and the case's tombstone is kept. Decisions and referrals stay, with their codes: the counts per programme and concern.

The erasure is forwarded, unchanged, on the food desk's topic ``routing.food.v1`` (food reads
no topic of intake's, ADR 24), whether or not routing ever routed the case: a case routing
has not heard of may still have reached the desk before a fault.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.routing.adapters.orm import tables
from tsunagu.routing.service_layer.handlers import FOOD_TOPIC, Routing
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.runtime import record_erasure


async def on_resident_erased(routing: Routing, session: AsyncSession, envelope: Envelope) -> None:
    erased = parse(envelope, intake.ResidentErased)
    if not await record_erasure(
        session, tables, erased.case_id, erased.resident_id, erased.erased_at
    ):
        return
    await routing.emit(
        session,
        [FOOD_TOPIC],
        intake.RESIDENT_ERASED,
        erased,
        case_id=erased.case_id,
        cause=envelope,
    )
    r, s = tables.referral, tables.referral_status_change
    await session.execute(
        delete(tables.parked_event).where(tables.parked_event.c.case_id == erased.case_id)
    )
    await session.execute(
        update(r)
        .where(r.c.case_id == erased.case_id)
        .values(reason=None, outcome=None, deadline_at=None)
    )
    await session.execute(
        update(s).where(s.c.case_id == erased.case_id).values(reason=None, outcome=None)
    )


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(x._mapping) for x in result]


async def disclose(session: AsyncSession, resident_id: str, case_ids: list[str]) -> dict[str, Any]:
    d, r, s = tables.decision, tables.referral, tables.referral_status_change
    return {
        "decisions": _rows(await session.execute(select(d).where(d.c.case_id.in_(case_ids)))),
        "referrals": _rows(
            await session.execute(
                select(r).where(r.c.case_id.in_(case_ids)).order_by(r.c.created_at)
            )
        ),
        "status_changes": _rows(
            await session.execute(select(s).where(s.c.case_id.in_(case_ids)).order_by(s.c.id))
        ),
    }
