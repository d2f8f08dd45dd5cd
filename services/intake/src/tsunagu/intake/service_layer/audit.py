"""The audit log: who looked at or changed what, and when; never the values residents gave."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables


async def record(
    session: AsyncSession,
    actor: str,
    action: str,
    *,
    case_id: str | None = None,
    target: str | None = None,
    **detail: Any,
) -> None:
    """Add one entry inside the caller's transaction (the change and its record go together).

    ``detail`` holds codes and field names only, e.g. ``fields=["resident.phone"]``.
    """
    await session.execute(
        tables.audit_log.insert().values(
            actor=actor, action=action, case_id=case_id, target=target, detail=detail
        )
    )


async def trail(session: AsyncSession, case_id: str, limit: int = 100) -> list[dict[str, Any]]:
    t = tables.audit_log
    rows = await session.execute(
        select(t.c.at, t.c.actor, t.c.action, t.c.detail)
        .where(t.c.case_id == case_id)
        .order_by(t.c.audit_id.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]
