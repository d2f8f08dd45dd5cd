"""The event day board: today's event at my venue, live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from tsunagu.intake.domain import access
from tsunagu.intake.entrypoints.pages.rendering import (
    forbid_unless,
    form_text,
    fragment,
    id_or_none,
    live,
    not_found,
    render,
    safe_next,
)
from tsunagu.intake.entrypoints.web import (
    Intake,
    intake,
    staff,
    staff_passive,
    who,
)
from tsunagu.intake.service_layer import audit, board, cases, planning
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import Forbidden, Invalid, NotFound
from tsunagu.shared.auth import Principal, check_csrf
from tsunagu.shared.contracts.codes import StaffRole

router = APIRouter()


def _may_see_board(domain: access.Principal) -> bool:
    return bool(domain.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR, StaffRole.ADMIN})


async def _board_event(
    app: Intake, session: Any, principal: Principal, event_id: str | None
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    todays = await board.events_on(session, app.today(), None)
    mine = [e for e in todays if e["venue_id"] == principal.venue_id]
    chosen = next((e for e in todays if e["event_id"] == event_id), None)
    if chosen is None and event_id:
        chosen = await staff_service.get_event(session, event_id)
    if chosen is None:
        chosen = (mine or todays or [None])[0]
    return chosen, todays


def _case_ids(data: dict[str, Any] | None) -> list[str]:
    if data is None:
        return []
    return sorted({item["case_id"] for column in data["columns"].values() for item in column})


@router.get("/board")
async def board_page(
    request: Request, event_id: str | None = None, principal: Principal = Depends(staff)
) -> Response:
    domain = who(principal)
    forbid_unless(_may_see_board(domain))
    app = intake(request)
    async with app.transaction() as session:
        event, todays = await _board_event(app, session, principal, id_or_none(event_id))
        data = await board.board(session, event) if event is not None else None
        booths = await planning.roster(session, event["event_id"]) if event is not None else []
        await audit.record(
            session,
            principal.username,
            "board.view",
            target=event and event["event_id"],
            case_ids=_case_ids(data),
        )
    return render(
        request, "board.html", principal, event=event, todays=todays, board=data, booths=booths
    )


@router.get("/board/stream")
async def board_stream(
    request: Request, event_id: str, principal: Principal = Depends(staff_passive)
) -> Response:
    forbid_unless(_may_see_board(who(principal)))
    app = intake(request)
    event_id = id_or_none(event_id) or ""
    shown: set[str] = set()

    async def render_board() -> str:
        async with app.transaction() as session:
            event = await staff_service.get_event(session, event_id)
            if event is None:
                return ""
            data = await board.board(session, event)
            seen = set(_case_ids(data))
            if seen - shown:  # every case the stream newly shows is audited
                await audit.record(
                    session,
                    principal.username,
                    "board.stream",
                    target=event_id,
                    case_ids=sorted(seen - shown),
                )
                shown.update(seen)
        return fragment(app, request, "_board.html", principal, event=event, board=data)

    return live(request, render_board)


@router.post("/cases/{case_id}/board-status")
async def move_on_board(
    request: Request, case_id: str, principal: Principal = Depends(staff)
) -> Response:
    await check_csrf(request, principal)
    if not id_or_none(case_id):
        raise not_found()
    form = await request.form()
    status = form_text(form, "status")
    back = safe_next(form_text(form, "back")) or "/board"
    try:
        async with intake(request).transaction() as session:
            await cases.set_board_status(session, who(principal), case_id, status)
    except NotFound:
        raise not_found() from None
    except (Forbidden, Invalid):
        raise HTTPException(403, "この操作の権限がありません") from None
    return RedirectResponse(back, status_code=303)
