"""The audit log: who looked at or changed what, and when; never the values residents gave.

Entries are appended in the caller's transaction and hash-chained afterwards
(``tsunagu.shared.audit``). Auditors search it by case, resident, staff member, time and action;
a view that showed several cases names them in ``detail.case_ids``, so a search by case finds
it too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import cast, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared import audit as chain_log


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

    ``detail`` holds codes, field names and case ids only, e.g. ``fields=["resident.phone"]``.
    """
    await chain_log.record(
        session, tables.audit_log, actor, action, case_id=case_id, target=target, **detail
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


async def chain(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Chain every committed entry not chained yet (a short transaction of its own)."""
    total = 0
    while True:
        async with sessions() as session, session.begin():
            count = await chain_log.chain(session, tables.audit_log)
        total += count
        if count < 1000:
            return total


async def verify(session: AsyncSession) -> list[chain_log.Broken]:
    return await chain_log.verify(session, tables.audit_log)


FIELDS = ("audit_id", "at", "actor", "action", "case_id", "target", "detail", "hash")


async def search(
    session: AsyncSession,
    *,
    case_id: str | None = None,
    resident_id: str | None = None,
    username: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Entries, newest first. A case matches entries about it and views that showed it; a
    resident matches every one of their cases."""
    t = tables.audit_log
    query = select(*(t.c[f] for f in FIELDS)).order_by(t.c.audit_id.desc()).limit(limit)
    case_ids: list[str] = []
    if case_id is not None:
        case_ids.append(case_id)
    if resident_id is not None:
        c = tables.case
        found = await session.execute(select(c.c.case_id).where(c.c.resident_id == resident_id))
        case_ids += [x for (x,) in found]
        if not case_ids:
            return []
    if case_ids:
        detail = cast(t.c.detail, JSONB)
        query = query.where(
            or_(
                t.c.case_id.in_(case_ids),
                *(detail.contains({"case_ids": [x]}) for x in case_ids),
            )
        )
    if username is not None:
        query = query.where(t.c.actor == username)
    if since is not None:
        query = query.where(t.c.at >= since)
    if until is not None:
        query = query.where(t.c.at < until)
    if action is not None:
        query = query.where(t.c.action == action)
    return [dict(row._mapping) for row in await session.execute(query)]


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The search as CSV (UTF-8 with BOM, so that Excel opens Japanese text correctly)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["audit_id", "at", "actor", "action", "case_id", "case_ids", "target", "hash"])
    for r in rows:
        shown = r["detail"].get("case_ids") if isinstance(r["detail"], dict) else None
        writer.writerow(
            [
                r["audit_id"],
                r["at"].isoformat(),
                r["actor"],
                r["action"],
                r["case_id"] or "",
                " ".join(shown or []),
                r["target"] or "",
                r["hash"] or "",
            ]
        )
    return "\ufeff" + out.getvalue()
