"""The food desk page: find a household, see its status, hand a parcel out in one tap.

Served by this service at ``/desk`` for the ``food_desk`` role (admins too). It shows only what a
handout needs: case number, furigana, eligibility, what was already received, stock per type.
Forms carry the session's CSRF token and, per button, an Idempotency-Key, so a double tap or a
resubmitted form records one handout.
"""

# No "from __future__ import annotations": FastAPI resolves the route-local Desk alias.
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from tsunagu.food_distribution.domain.handout import JST
from tsunagu.food_distribution.domain.labels import PARCEL_TYPE_LABELS_JA
from tsunagu.food_distribution.service_layer import cases, handouts, queries
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.food_distribution.service_layer.errors import FoodError
from tsunagu.shared.auth import CSRF_FIELD, Authenticator, Principal, check_csrf
from tsunagu.shared.contracts.codes import ParcelType, StaffRole

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def _jst(value: datetime | str | None, fmt: str = "%m/%d %H:%M") -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(JST).strftime(fmt)


templates.env.filters["jst"] = _jst
templates.env.globals["PARCEL_LABELS"] = {str(k): v for k, v in PARCEL_TYPE_LABELS_JA.items()}


def install_error_pages(app: FastAPI) -> None:
    """403 and 404 on the desk as a page a person can read; the API keeps its JSON."""

    @app.exception_handler(StarletteHTTPException)
    async def _page(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith("/desk"):
            return await http_exception_handler(request, exc)
        return templates.TemplateResponse(
            request, "error.html", {"message": exc.detail}, status_code=exc.status_code
        )


def desk_router(
    sessions: async_sessionmaker[AsyncSession], deps: Deps, auth: Authenticator
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Desk = Annotated[Principal, Depends(auth.require(StaffRole.FOOD_DESK))]

    async def render(
        request: Request,
        staff: Principal,
        *,
        event_id: str | None,
        q: str = "",
        case_id: str | None = None,
        handed: str | None = None,
        notice: str | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        stock = hits = household = None
        async with sessions() as session, session.begin():
            events = await queries.events(session)
            event_id = _choose_event(events, event_id, staff.venue_id)
            try:
                if event_id:
                    stock = await queries.stock_of(session, deps.config, event_id)
                    hits = await queries.search(session, event_id, q) if q.strip() else None
                if case_id:
                    household = await queries.household_status(session, deps.config, case_id)
            except FoodError as exc:
                error = error or exc.message_ja
        for received in household["received"] if household and handed else []:
            if received["handout_id"] == handed:
                label = PARCEL_TYPE_LABELS_JA[ParcelType(received["parcel_type"])]
                notice = f"{label}を受け渡しました（{_jst(received['handed_out_at'], '%H:%M')}）"
        context = {
            "staff": staff,
            "csrf_field": CSRF_FIELD,
            "events": events,
            "event_id": event_id,
            "stock": stock,
            "q": q,
            "hits": hits,
            "household": household,
            "notice": notice,
            "handed": handed,
            "error": error,
            "parcel_types": [str(p) for p in ParcelType],
            # One key per button: retrying a tap repeats it, another type is a new request.
            "keys": {str(p): str(uuid.uuid4()) for p in ParcelType},
            "poll_ms": int(deps.config.desk_poll_seconds * 1000),
        }
        return templates.TemplateResponse(request, "desk.html", context, status_code=status_code)

    @router.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/desk", status_code=303)

    @router.get("/desk", response_class=HTMLResponse)
    async def desk(
        request: Request,
        staff: Desk,
        event_id: str | None = None,
        q: str = "",
        case_id: str | None = None,
        handed: str | None = None,
        granted: bool = False,
    ) -> Response:
        return await render(
            request, staff, event_id=_storable(event_id), q=_storable(q[:100]) or "",
            case_id=_storable(case_id), handed=_storable(handed),
            notice="配布対象にしました" if granted else None,
        )  # fmt: skip

    @router.post("/desk/handouts")
    async def desk_hand_out(request: Request, staff: Desk) -> Response:
        await check_csrf(request, staff)
        form = await request.form()
        event_id, q, case_id = _text(form, "event_id"), _text(form, "q"), _text(form, "case_id")
        again = {"event_id": event_id, "q": q, "case_id": case_id}
        try:
            parcel_type = ParcelType(_text(form, "parcel_type"))
        except ValueError:
            return await render(
                request, staff, **again, error="配布する種類を選んでください", status_code=422
            )
        try:
            async with sessions() as session, session.begin():
                outcome = await handouts.hand_out(
                    session, deps, case_id=case_id, parcel_type=parcel_type,
                    staff=staff.username, idempotency_key=_text(form, "idempotency_key") or None,
                )  # fmt: skip
        except FoodError as exc:
            return await render(
                request, staff, **again, error=exc.message_ja, status_code=exc.status
            )
        if outcome.refusal is not None:
            return await render(
                request, staff, **again, error=outcome.refusal.message_ja, status_code=409
            )
        assert outcome.handout is not None
        return _back(again, handed=outcome.handout["handout_id"])

    @router.post("/desk/eligibility")
    async def desk_grant(request: Request, staff: Desk) -> Response:
        await check_csrf(request, staff)
        form = await request.form()
        event_id, q, case_id = _text(form, "event_id"), _text(form, "q"), _text(form, "case_id")
        again = {"event_id": event_id, "q": q, "case_id": case_id}
        try:
            async with sessions() as session, session.begin():
                await cases.grant_manually(
                    session, deps.outbox, case_id=case_id, staff=staff.username,
                    reason=_text(form, "reason")[:500],
                )  # fmt: skip
        except FoodError as exc:
            return await render(
                request, staff, **again, error=exc.message_ja, status_code=exc.status
            )
        return _back(again, granted="1")

    return router


def _choose_event(
    events: list[dict[str, Any]], wanted: str | None, venue_id: str | None
) -> str | None:
    """The event asked for, else the latest at the staff member's venue, else the latest."""
    if wanted:
        return wanted
    for event in events:
        if venue_id and event["venue_id"] == venue_id:
            return str(event["event_id"])
    return str(events[0]["event_id"]) if events else None


def _storable(value: str | None) -> str | None:
    """``None`` for a value PostgreSQL text cannot hold (NUL): it names no event or case."""
    return None if value is None or "\x00" in value else value


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return (_storable(value) or "").strip() if isinstance(value, str) else ""


def _back(params: dict[str, str], **extra: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in {**params, **extra}.items() if v})
    return RedirectResponse(f"/desk?{query}", status_code=303)
