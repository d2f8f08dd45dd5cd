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

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared import audit as chain_log
from tsunagu.shared.internal import caller_headers
from tsunagu.shared.logs import get_logger
from tsunagu.shared.settings import Settings

log = get_logger(__name__)


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


#: The services that keep their own audit of what their staff saw (ADR 13); intake gathers
#: their entries from ``/internal/v1/audit`` when an auditor searches.
SERVICES = ("notify", "food_distribution")


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
    settings: Settings | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Entries of intake's audit and, given ``settings``, of every service's, newest first,
    each with its ``service``; and the services that could not be asked. A case matches
    entries about it and views that showed it; a resident matches every one of their cases."""
    case_ids: list[str] = []
    if case_id is not None:
        case_ids.append(case_id)
    if resident_id is not None:
        c = tables.case
        found = await session.execute(select(c.c.case_id).where(c.c.resident_id == resident_id))
        case_ids += [x for (x,) in found]
        if not case_ids:
            return [], []
    filters = {"username": username, "since": since, "until": until, "action": action}
    rows = await chain_log.search(
        session, tables.audit_log, case_ids=case_ids, limit=limit, **filters
    )
    rows = [{**r, "service": "intake"} for r in rows]
    unreachable: list[str] = []
    for service in SERVICES if settings is not None else ():
        assert settings is not None
        theirs = await _ask(settings, service, case_ids, limit, **filters)
        if theirs is None:
            unreachable.append(service)
            continue
        rows += [{**r, "at": datetime.fromisoformat(r["at"]), "service": service} for r in theirs]
    rows.sort(key=lambda r: r["at"], reverse=True)
    return rows[:limit], unreachable


async def _ask(
    settings: Settings,
    service: str,
    case_ids: list[str],
    limit: int,
    *,
    username: str | None,
    since: datetime | None,
    until: datetime | None,
    action: str | None,
) -> list[dict[str, Any]] | None:
    params: dict[str, Any] = {"case_id": case_ids, "limit": limit}
    for key, value in (("username", username), ("action", action)):
        if value is not None:
            params[key] = value
    for key, moment in (("from", since), ("to", until)):
        if moment is not None:
            params[key] = moment.isoformat()
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(
                f"{settings.internal_base(service)}/internal/v1/audit",
                params=params,
                headers=caller_headers(settings),
            )
    except httpx.HTTPError as exc:
        log.warning("audit_service_unreachable", service=service, error=type(exc).__name__)
        return None
    if response.status_code != 200:
        log.warning("audit_service_refused", service=service, status=response.status_code)
        return None
    return list(response.json())


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The search as CSV (UTF-8 with BOM, so that Excel opens Japanese text correctly)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["audit_id", "at", "actor", "action", "case_id", "case_ids", "target", "hash", "service"]
    )
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
                r.get("service", "intake"),
            ]
        )
    return "\ufeff" + out.getvalue()
