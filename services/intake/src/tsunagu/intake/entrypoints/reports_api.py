"""Reports over HTTP: ``/api/v1/reports/...`` as JSON, CSV or an Excel workbook.

Admins and managers only. The numbers are the same in every format: each is made from the
one report ``service_layer.reports`` computes.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from tsunagu.intake.domain import access
from tsunagu.intake.entrypoints import schemas
from tsunagu.intake.entrypoints.report_files import to_csv, to_xlsx
from tsunagu.intake.entrypoints.web import http_errors, intake, staff, who
from tsunagu.intake.service_layer import reports
from tsunagu.shared.auth import Principal

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Staff = Annotated[Principal, Depends(staff)]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report",
        "content": {"text/csv": {}, XLSX: {}},
    },
    401: {"description": "Not signed in"},
    403: {"description": "Reports are for admins and managers"},
}


def require_reader(principal: Principal) -> None:
    if not access.can_read_reports(who(principal)):
        raise HTTPException(403, "この操作の権限がありません (forbidden)")


async def build(request: Request, principal: Principal, scope: reports.Scope) -> dict[str, Any]:
    require_reader(principal)
    with http_errors("query"):
        async with intake(request).transaction() as session:
            return await reports.report(session, principal.username, scope)


def respond(report: dict[str, Any], fmt: str, name: str, title: str) -> Response:
    if fmt == "csv":
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            to_xlsx(report, title),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return JSONResponse(report)


@router.get("/events/{event_id}", responses={**_RESPONSES, 404: {"description": "No such event"}})
async def event_report(
    request: Request,
    principal: Staff,
    event_id: Annotated[str, Path(pattern=schemas.ID_PATTERN, max_length=64)],
    format: Format = "json",
) -> Response:
    """One consultation event: residents, concerns, referrals, food, joint handling."""
    report = await build(request, principal, reports.Scope(event_id=event_id))
    return respond(report, format, f"report-{event_id}", f"相談会報告 {event_id}")


@router.get("/period", responses={**_RESPONSES, 422: {"description": "No period, or two"}})
async def period_report(
    request: Request,
    principal: Staff,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")] = None,
    fiscal_year: Annotated[
        int | None, Query(ge=2000, le=2100, description="年度: April of this year to March")
    ] = None,
    from_date: Annotated[date | None, Query(alias="from")] = None,
    to_date: Annotated[date | None, Query(alias="to")] = None,
    venue_id: Annotated[str | None, Query(pattern=schemas.ID_PATTERN)] = None,
    format: Format = "json",
) -> Response:
    """Every event in a month, a fiscal year or a span of dates (across years), per venue."""
    require_reader(principal)
    with http_errors("query"):
        scope = reports.period_scope(
            month=month,
            fiscal_year=fiscal_year,
            from_date=from_date,
            to_date=to_date,
            venue_id=venue_id,
        )
    report = await build(request, principal, scope)
    name = "report-" + (
        month or (f"fy{fiscal_year}" if fiscal_year else f"{scope.from_date}-{scope.to_date}")
    )
    if venue_id:
        name += f"-{venue_id}"
    return respond(report, format, name, f"相談会報告 {name[7:]}")
