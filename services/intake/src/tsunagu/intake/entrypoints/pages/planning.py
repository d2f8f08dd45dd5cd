"""Event planning (admins): an event's date, hours, venue, capacity, programmes, booths and
rosters, the planning meeting's notes, and copying last year's event."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tsunagu.intake.domain import access
from tsunagu.intake.entrypoints import schemas
from tsunagu.intake.entrypoints.pages.rendering import forbid_unless, form_text, not_found, render
from tsunagu.intake.entrypoints.web import find_unstorable, intake, staff, who
from tsunagu.intake.service_layer import audit, planning
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import Conflict, Invalid, NotFound
from tsunagu.shared.auth import Principal, check_csrf
from tsunagu.shared.contracts.codes import Programme

router = APIRouter()

EventId = Annotated[str, Path(pattern=schemas.ID_PATTERN, max_length=64)]


def _plan_from(form: FormData) -> planning.EventPlan:
    """The submitted form as a plan; a value that cannot be read is an Invalid naming it."""

    def parse(name: str, reader: Any, message: str) -> Any:
        try:
            return reader(form_text(form, name))
        except ValueError:
            raise Invalid(name, message) from None

    capacity = form_text(form, "capacity")
    programmes = tuple(
        Programme(p) for p in form.getlist("programmes") if isinstance(p, str) and p in _CODES
    )
    booths = {}
    for p in programmes:
        label = form_text(form, f"booth.{p.value}")
        people = tuple(
            u.strip() for u in form_text(form, f"roster.{p.value}").replace("、", ",").split(",")
        )
        people = tuple(u for u in people if u)
        if label or people:
            booths[p] = (label, people)
    return planning.EventPlan(
        venue_id=form_text(form, "venue_id"),
        event_date=parse("event_date", date.fromisoformat, "日付を正しく入力してください"),
        opens_at=parse("opens_at", time.fromisoformat, "開始時刻を正しく入力してください"),
        closes_at=parse("closes_at", time.fromisoformat, "終了時刻を正しく入力してください"),
        programmes=programmes,
        capacity=parse("capacity", int, "定員は数で入力してください") if capacity else None,
        planning_notes=form_text(form, "planning_notes") or None,
        booths=booths,
    )


_CODES = {p.value for p in Programme}


async def _page(
    request: Request,
    principal: Principal,
    event_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    app = intake(request)
    async with app.transaction() as session:
        try:
            plan = await planning.get_plan(session, event_id)
        except NotFound:
            raise not_found() from None
        venues = await staff_service.list_venues(session)
        people = await staff_service.list_staff(session)
        await audit.record(session, principal.username, "event.plan.view", target=event_id)
    return render(
        request,
        "event_plan.html",
        principal,
        status_code=status_code,
        plan=plan,
        venues=venues,
        people=[p for p in people if p["active"]],
        errors=errors or {},
        values=values,
        saved=saved,
        copy_date=planning.same_weekday_next_year(plan["event_date"]),
    )


@router.get("/admin/events/{event_id}")
async def plan_page(
    request: Request,
    event_id: EventId,
    saved: bool = False,
    principal: Principal = Depends(staff),
) -> Response:
    forbid_unless(access.can_admin(who(principal)))
    return await _page(request, principal, event_id, saved=saved)


async def _command(request: Request, principal: Principal, event_id: str, command: Any) -> Response:
    await check_csrf(request, principal)
    forbid_unless(access.can_admin(who(principal)))
    form = await request.form()
    if find_unstorable([v for v in form.values() if isinstance(v, str)]) is not None:
        return await _page(
            request,
            principal,
            event_id,
            errors={"form": "使用できない文字が含まれています"},
            status_code=422,
        )
    try:
        async with intake(request).transaction() as session:
            target = await command(session, form)
    except NotFound:
        raise not_found() from None
    except Invalid as exc:
        return await _page(
            request, principal, event_id, errors={exc.field: exc.message}, status_code=422
        )
    except Conflict as exc:
        return await _page(request, principal, event_id, errors={"form": str(exc)}, status_code=409)
    return RedirectResponse(f"/admin/events/{target}?saved=true", status_code=303)


@router.post("/admin/events/{event_id}")
async def plan_save(
    request: Request, event_id: EventId, principal: Principal = Depends(staff)
) -> Response:
    async def save(session: Any, form: FormData) -> str:
        return await planning.change_event(session, principal.username, event_id, _plan_from(form))

    return await _command(request, principal, event_id, save)


@router.post("/admin/events/{event_id}/copy")
async def plan_copy(
    request: Request, event_id: EventId, principal: Principal = Depends(staff)
) -> Response:
    async def copy(session: Any, form: FormData) -> str:
        try:
            to_date = date.fromisoformat(form_text(form, "to_date"))
        except ValueError:
            raise Invalid("to_date", "日付を正しく入力してください") from None
        return await planning.copy_event(session, principal.username, event_id, to_date)

    return await _command(request, principal, event_id, copy)


@router.post("/admin/events/{event_id}/late-intake")
async def plan_late_intake(
    request: Request, event_id: EventId, principal: Principal = Depends(staff)
) -> Response:
    """「日付外の受付を許可」 (with a reason) and 「許可を取り消す」."""

    async def late(session: Any, form: FormData) -> str:
        reason = None if form_text(form, "action") == "end" else form_text(form, "reason")[:200]
        await staff_service.set_late_intake(session, principal.username, event_id, reason)
        return event_id

    return await _command(request, principal, event_id, late)
