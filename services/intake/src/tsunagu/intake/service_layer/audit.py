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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Insert, select
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


def entry(
    actor: str, action: str, *, case_id: str | None = None, target: str | None = None, **detail: Any
) -> Insert:
    """``record``'s insert, to be sent with the caller's other statements (one round trip)."""
    return chain_log.entry(
        tables.audit_log, actor, action, case_id=case_id, target=target, **detail
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
    """Chain every committed entry not chained yet (short transactions of their own)."""
    return await chain_log.chain_all(sessions, tables.audit_log)


async def verify(session: AsyncSession) -> list[chain_log.Broken]:
    return await chain_log.verify(session, tables.audit_log)


#: The services that keep their own audit of what their staff saw (ADR 13); intake gathers
#: their entries from ``/internal/v1/audit`` when an auditor searches.
SERVICES = ("notify", "food_distribution")


@dataclass
class Search:
    """One auditor's search: what was asked, and what the other services answered.

    A search runs in three steps so that no database transaction is open while another
    service is asked over HTTP: `prepare` (intake's own short read: a resident's case ids),
    `ask_services` (no transaction: notify's and food's audits, each up to 10 s), then
    `search` inside the transaction that also records the search (the auditor's view and its
    record commit together, after every remote answer is in)."""

    case_ids: list[str] = field(default_factory=list)
    #: A resident with no cases: nothing can match.
    empty: bool = False
    filters: dict[str, Any] = field(default_factory=dict)
    limit: int = 500
    theirs: list[dict[str, Any]] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)


async def prepare(
    sessions: async_sessionmaker[AsyncSession],
    *,
    case_id: str | None = None,
    resident_id: str | None = None,
    username: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    limit: int = 500,
) -> Search:
    """What the search is about: a case, or a resident's every case (a short read)."""
    case_ids: list[str] = [case_id] if case_id is not None else []
    if resident_id is not None:
        c = tables.case
        async with sessions() as session:
            found = await session.execute(select(c.c.case_id).where(c.c.resident_id == resident_id))
            case_ids += [x for (x,) in found]
    filters = {"username": username, "since": since, "until": until, "action": action}
    return Search(case_ids=case_ids, empty=not case_ids and resident_id is not None,
                  filters=filters, limit=limit)  # fmt: skip


async def ask_services(settings: Settings, asked: Search) -> None:
    """Notify's and food's entries for the search, outside any transaction of intake's."""
    if asked.empty:
        return
    for service in SERVICES:
        theirs = await _ask(settings, service, asked.case_ids, asked.limit, **asked.filters)
        if theirs is None:
            asked.unreachable.append(service)
            continue
        asked.theirs += [
            {**r, "at": datetime.fromisoformat(r["at"]), "service": service} for r in theirs
        ]


async def search(session: AsyncSession, asked: Search) -> list[dict[str, Any]]:
    """Intake's own entries merged with the services' answers, newest first, each with its
    ``service``. A case matches entries about it and views that showed it; a resident
    matches every one of their cases."""
    if asked.empty:
        return []
    rows = await chain_log.search(
        session, tables.audit_log, case_ids=asked.case_ids, limit=asked.limit, **asked.filters
    )
    rows = [{**r, "service": "intake"} for r in rows] + asked.theirs
    rows.sort(key=lambda r: r["at"], reverse=True)
    return rows[: asked.limit]


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


def detail_text(detail: Any) -> str:
    """An entry's detail as the auditor reads it, one ``key=value`` per item and lists joined
    by commas, e.g. ``fields=resident.phone; late_intake=true``. The cases a view showed are a
    column of their own, so they are left out here. The detail holds codes, field names, ids
    and times only (``record``), so nothing here names anyone."""
    if not isinstance(detail, dict):
        return ""

    def shown(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list | tuple):
            return ",".join(shown(v) for v in value)
        if isinstance(value, dict):
            return ",".join(f"{k}:{shown(v)}" for k, v in sorted(value.items()))
        return str(value)

    return "; ".join(f"{k}={shown(v)}" for k, v in sorted(detail.items()) if k != "case_ids")


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The search as CSV (UTF-8 with BOM, so that Excel opens Japanese text correctly)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "audit_id", "at", "actor", "action", "case_id", "case_ids", "target", "detail",
            "hash", "service",
        ]
    )  # fmt: skip
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
                detail_text(r["detail"]),
                r["hash"] or "",
                r.get("service", "intake"),
            ]
        )
    return "\ufeff" + out.getvalue()
