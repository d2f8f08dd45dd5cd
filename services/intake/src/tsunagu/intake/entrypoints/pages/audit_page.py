"""The auditor's page: search the audit log, download it as CSV, see whether the chain holds."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tsunagu.intake.domain import access
from tsunagu.intake.entrypoints.pages.rendering import forbid_unless, id_or_none, render
from tsunagu.intake.entrypoints.web import intake, staff, who
from tsunagu.intake.service_layer import audit
from tsunagu.shared.auth import Principal

router = APIRouter()


def _when(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/audit")
async def audit_page(request: Request, principal: Principal = Depends(staff)) -> Response:
    domain = who(principal)
    forbid_unless(access.can_audit(domain))
    q = request.query_params
    filters = {
        "case_id": id_or_none(q.get("case_id", "")),
        "resident_id": id_or_none(q.get("resident_id", "")),
        "username": (q.get("username") or "")[:64] or None,
        "from": q.get("from") if _when(q.get("from")) else None,
        "to": q.get("to") if _when(q.get("to")) else None,
        "action": (q.get("action") or "")[:64] or None,
    }
    app = intake(request)
    await audit.chain(app.runtime.sessions)
    asked = await audit.prepare(
        app.runtime.sessions,
        case_id=filters["case_id"],
        resident_id=filters["resident_id"],
        username=filters["username"],
        since=_when(filters["from"]),
        until=_when(filters["to"]),
        action=filters["action"],
        limit=500,
    )
    # The other services are asked with no transaction of intake's open (ADR 18).
    await audit.ask_services(app.settings, asked)
    unreachable = asked.unreachable
    async with app.transaction() as session:
        rows = await audit.search(session, asked)
        intact = not await audit.verify(session)
        given = {k: v for k, v in filters.items() if v and k != "case_id"}
        await audit.record(
            session, domain.username, "audit.search", case_id=filters["case_id"], filters=given
        )
    csv_query = urlencode([*((k, v) for k, v in filters.items() if v), ("format", "csv")])
    return render(
        request,
        "audit.html",
        principal,
        rows=rows,
        filters=filters,
        csv_query=csv_query,
        intact=intact,
        unreachable=unreachable,
        detail_text=audit.detail_text,
    )
