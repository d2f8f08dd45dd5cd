"""The staff pages: login, event day board, new case form, case page, programme inbox, admin.

Server-rendered and usable without JavaScript; a small script adds live updates (server-sent
events) and the duplicate hint while typing. Every page that shows personal data, and every
change, is written to the audit log.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from tsunagu.intake.adapters.routing_preview import Preview
from tsunagu.intake.domain import access
from tsunagu.intake.domain.case_input import FORM_ERROR_KEY, CaseInput, japanese_error_messages
from tsunagu.intake.domain.normalize import format_era
from tsunagu.intake.entrypoints import i18n
from tsunagu.intake.entrypoints.web import (
    Intake,
    find_unstorable,
    intake,
    lang_of,
    set_session_cookie,
    staff,
    staff_passive,
    unstorable,
    who,
)
from tsunagu.intake.service_layer import audit, board, cases, referrals
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import Conflict, Forbidden, Invalid, NotFound
from tsunagu.shared.auth import COOKIE_NAME, CSRF_FIELD, Principal, check_csrf, token_from_request
from tsunagu.shared.contracts.codes import (
    Concern,
    ContactChannel,
    ContactTime,
    Language,
    Programme,
    ReferralRole,
    Sex,
    SharingBasis,
    StaffRole,
)
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "tsunagu_login_csrf"
HOUSEHOLD_ROWS = 3


# --- rendering --------------------------------------------------------------------------------


def render(
    request: Request,
    template: str,
    principal: Principal | None = None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    app = intake(request)
    return app.templates.TemplateResponse(
        request, template, page_context(request, principal) | context, status_code=status_code
    )


def page_context(request: Request, principal: Principal | None) -> dict[str, Any]:
    app = intake(request)
    lang = lang_of(request)
    tz = app.tz

    def when(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    def day(value: date | None) -> str:
        if value is None:
            return ""
        return f"{value:%Y-%m-%d}" + ("" if lang == "en" else f"（{format_era(value)}）")

    def action_label(code: str) -> str:
        words = i18n.WORDS.get("audit." + code)
        return code if words is None else words[1 if lang == "en" else 0]

    domain = who(principal) if principal is not None else None
    return {
        "phone": format_phone,
        "action_label": action_label,
        "lang": lang,
        "t": i18n.translator(lang),
        "concern": i18n.concern_label(lang),
        "programme": i18n.programme_name(lang),
        "when": when,
        "day": day,
        "principal": principal,
        "csrf_field": CSRF_FIELD,
        "csrf": principal.csrf if principal is not None else "",
        "nav": _nav(domain),
        "path": request.url.path,
        "query_lang": lambda code: _with_lang(request, code),
        "Concern": Concern,
        "Programme": Programme,
        "StaffRole": StaffRole,
        "Sex": Sex,
        "Language": Language,
        "SharingBasis": SharingBasis,
        "ContactChannel": ContactChannel,
        "ContactTime": ContactTime,
        "ReferralRole": ReferralRole,
        "board_statuses": cases.BOARD_STATUSES,
    }


def format_phone(digits: str | None) -> str:
    """Digits as people read them: 090-1234-5678, 048-123-4567 (area codes vary; a guide)."""
    if not digits:
        return ""
    if len(digits) == 11:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if len(digits) == 10:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return digits


def _with_lang(request: Request, code: str) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return request.url.path + "?" + urlencode([*query, ("lang", code)])


def _nav(domain: access.Principal | None) -> list[tuple[str, str]]:
    if domain is None:
        return []
    items: list[tuple[str, str]] = []
    roles = domain.roles
    if roles & {StaffRole.INTAKE, StaffRole.COORDINATOR, StaffRole.ADMIN}:
        items.append(("/board", "nav.board"))
    if access.can_take_in(domain):
        items.append(("/cases/new", "nav.new"))
    if roles - {StaffRole.PROGRAMME} or domain.programmes:
        items.append(("/cases", "nav.cases"))
    if StaffRole.PROGRAMME in roles and domain.programmes:
        items.append(("/inbox", "nav.inbox"))
    if access.can_admin(domain):
        items.append(("/admin", "nav.admin"))
    return items


def fragment(app: Intake, request: Request, template: str, principal: Principal, **ctx: Any) -> str:
    context = page_context(request, principal) | ctx
    return app.templates.env.get_template(template).render(**context)


def live(
    request: Request, render_fragment: Callable[[], Awaitable[str]], *, interval: float = 1.0
) -> StreamingResponse:
    """Server-sent events: the fragment whenever it changes (polling the database each second).

    The stream ends when the session would have: the browser reconnects with its cookie, which
    is then checked again (and a stream is not activity, so an idle session still ends).
    """
    app = intake(request)
    loop = asyncio.get_running_loop()
    ends = loop.time() + app.settings.session_idle_seconds

    async def events() -> AsyncIterator[str]:
        last: str | None = None
        quiet = 0
        yield "retry: 3000\n\n"
        while loop.time() < ends and not await request.is_disconnected():
            html = await render_fragment()
            if html != last:
                last = html
                quiet = 0
                yield "event: update\n" + "".join(f"data: {line}\n" for line in html.splitlines())
                yield "\n"
            else:
                quiet += 1
                if quiet % 15 == 0:
                    yield ": still here\n\n"  # keeps proxies from closing an idle stream
            await asyncio.sleep(interval)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _forbid_unless(allowed: bool) -> None:
    if not allowed:
        raise HTTPException(403, "この操作の権限がありません")


def _not_found() -> HTTPException:
    return HTTPException(404, "見つかりません")


# --- login and logout -------------------------------------------------------------------------


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never send someone elsewhere after they log in."""
    if not value:
        return "/"
    parts = urlsplit(value)
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path or unstorable(path):
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(16)
    response = render(request, "login.html", next=_safe_next(next), login_csrf=token, error=None)
    _set_login_csrf(request, response, token)
    return response


def _set_login_csrf(request: Request, response: Response, token: str) -> None:
    # Double-submit cookie: a login form posted from another site cannot know it.
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=intake(request).settings.cookie_secure,
        path="/login",
    )


@router.post("/login")
async def login(request: Request) -> Response:
    app = intake(request)
    form = await request.form()
    username = _text(form, "username")[:64]
    password = _text(form, "password")[:256]
    target = _safe_next(_text(form, "next"))
    sent = _text(form, CSRF_FIELD)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    principal = None
    genuine = bool(expected) and secrets.compare_digest(sent, expected)
    readable = find_unstorable([username, password]) is None
    if genuine and username and password and readable:
        async with app.transaction() as session:
            principal = await staff_service.authenticate(session, username, password)
            if principal is not None:
                await audit.record(session, principal.username, "auth.login")
    if principal is None:
        log.info("login_refused")
        token = secrets.token_urlsafe(16)
        response = render(
            request,
            "login.html",
            status_code=401,
            next=target,
            login_csrf=token,
            error="login.failed",
            username=username if not unstorable(username) else "",
        )
        _set_login_csrf(request, response, token)
        return response
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, app.settings, app.issue(principal))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, principal: Principal = Depends(staff)) -> Response:
    await check_csrf(request, principal)
    async with intake(request).transaction() as session:
        await audit.record(session, principal.username, "auth.logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/")
async def home(principal: Principal = Depends(staff)) -> Response:
    domain = who(principal)
    if domain.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR}:
        return RedirectResponse("/board", status_code=303)
    if StaffRole.PROGRAMME in domain.roles:
        return RedirectResponse("/inbox", status_code=303)
    if StaffRole.ADMIN in domain.roles:
        return RedirectResponse("/admin", status_code=303)
    return RedirectResponse("/cases", status_code=303)


# --- event day board --------------------------------------------------------------------------


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


@router.get("/board")
async def board_page(
    request: Request, event_id: str | None = None, principal: Principal = Depends(staff)
) -> Response:
    domain = who(principal)
    _forbid_unless(_may_see_board(domain))
    app = intake(request)
    async with app.transaction() as session:
        event, todays = await _board_event(app, session, principal, _id_or_none(event_id))
        data = await board.board(session, event) if event is not None else None
        await audit.record(
            session, principal.username, "board.view", target=event and event["event_id"]
        )
    return render(request, "board.html", principal, event=event, todays=todays, board=data)


@router.get("/board/stream")
async def board_stream(
    request: Request, event_id: str, principal: Principal = Depends(staff_passive)
) -> Response:
    _forbid_unless(_may_see_board(who(principal)))
    app = intake(request)
    event_id = _id_or_none(event_id) or ""

    async def render_board() -> str:
        async with app.transaction() as session:
            event = await staff_service.get_event(session, event_id)
            if event is None:
                return ""
            data = await board.board(session, event)
        return fragment(app, request, "_board.html", principal, event=event, board=data)

    return live(request, render_board)


@router.post("/cases/{case_id}/board-status")
async def move_on_board(
    request: Request, case_id: str, principal: Principal = Depends(staff)
) -> Response:
    await check_csrf(request, principal)
    if not _id_or_none(case_id):
        raise _not_found()
    form = await request.form()
    status = _text(form, "status")
    back = _safe_next(_text(form, "back")) or "/board"
    try:
        async with intake(request).transaction() as session:
            await cases.set_board_status(session, who(principal), case_id, status)  # type: ignore[arg-type]
    except NotFound:
        raise _not_found() from None
    except (Forbidden, Invalid):
        raise HTTPException(403, "この操作の権限がありません") from None
    return RedirectResponse(back, status_code=303)


def _id_or_none(value: str | None) -> str | None:
    if value and len(value) <= 64 and all(ch.isalnum() or ch in "-_" for ch in value):
        return value
    return None


# --- new case ---------------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_values(form: FormData) -> dict[str, Any]:
    """The submitted form as typed, to fill it in again; checkbox groups are lists."""
    values: dict[str, Any] = {}
    for key in form:
        items = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = items if key in ("concerns", "consent.contact_channels") else items[-1]
    return values


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def case_body(values: dict[str, Any]) -> dict[str, Any]:
    """The intake sheet as the API body (``CaseInput``); blank means not given."""

    def v(name: str) -> str | None:
        value = values.get(name)
        return value.strip() or None if isinstance(value, str) else None

    household = []
    for i in range(HOUSEHOLD_ROWS):
        relationship, age = v(f"household.{i}.relationship"), v(f"household.{i}.age")
        if relationship or age:
            household.append({"relationship": relationship or "", "age": age})
    proxy = None
    if v("proxy.name") or v("proxy.relationship"):
        proxy = {"name": v("proxy.name") or "", "relationship": v("proxy.relationship") or ""}
    resident: dict[str, Any] = {
        "name": v("resident.name") or "",
        "name_kana": v("resident.name_kana") or "",
        "birth_date": v("resident.birth_date"),
        "sex": v("resident.sex") or Sex.NOT_STATED.value,
        "phone": v("resident.phone"),
        "email": v("resident.email"),
        "address": v("resident.address"),
        "language": v("resident.language") or Language.JA.value,
        "lives_alone": _yes_no(v("resident.lives_alone")),
        "disability_certificate": bool(v("resident.disability_certificate")),
        "special_loan_borrower": bool(v("resident.special_loan_borrower")),
        "household": household,
        "proxy": proxy,
    }
    consent: dict[str, Any] = {
        "contact_channels": list(values.get("consent.contact_channels") or []),
        "contact_time": v("consent.contact_time") or ContactTime.ANY.value,
    }
    # Left out when not chosen, so the message says "please choose" rather than "invalid".
    share = _yes_no(v("consent.share_across_programmes"))
    if share is not None:
        consent["share_across_programmes"] = share
    if v("consent.basis"):
        consent["basis"] = v("consent.basis")
    return {
        "event_id": v("event_id") or "",
        "resident": resident,
        "concerns": list(values.get("concerns") or []),
        "most_pressing": v("most_pressing"),
        "urgent": {
            "no_food_today": bool(v("urgent.no_food_today")),
            "eviction_within_7_days": bool(v("urgent.eviction_within_7_days")),
        },
        "consent": consent,
        "notes": v("notes"),
    }


async def _new_case_events(app: Intake, session: Any) -> list[dict[str, Any]]:
    today = app.today()
    return await staff_service.list_events(
        session, from_date=today - timedelta(days=7), to_date=today + timedelta(days=31)
    )


def _default_event(events: list[dict[str, Any]], principal: Principal, today: date) -> str:
    todays = [e for e in events if e["event_date"] == today]
    mine = [e for e in todays if e["venue_id"] == principal.venue_id]
    chosen = (mine or todays or [{"event_id": ""}])[0]
    return str(chosen["event_id"])


@router.get("/cases/new")
async def new_case_page(
    request: Request, event_id: str | None = None, principal: Principal = Depends(staff)
) -> Response:
    _forbid_unless(access.can_take_in(who(principal)))
    app = intake(request)
    async with app.transaction() as session:
        events = await _new_case_events(app, session)
    values = {
        "event_id": _id_or_none(event_id) or _default_event(events, principal, app.today()),
        "idempotency_key": str(uuid.uuid4()),
    }
    return render(request, "case_new.html", principal, events=events, values=values, errors={})


@router.post("/cases/new")
async def new_case_submit(request: Request, principal: Principal = Depends(staff)) -> Response:
    await check_csrf(request, principal)
    domain = who(principal)
    _forbid_unless(access.can_take_in(domain))
    app = intake(request)
    form = await request.form()
    values = form_values(form)
    action = values.get("action", "save")
    key = _idempotency_key(values.get("idempotency_key"))
    values["idempotency_key"] = key
    errors: dict[str, str] = {}
    body: CaseInput | None = None
    bad = find_unstorable(values)
    if bad is not None:
        errors[str(bad[0])] = "使用できない文字が含まれています"
    else:
        try:
            body = CaseInput.model_validate(case_body(values))
        except ValidationError as exc:
            errors = japanese_error_messages(exc)

    async with app.transaction() as session:
        if action == "save":
            # Submitted twice (a double tap, a reload): show the case the first one created.
            earlier = await cases.case_for_key(session, f"form:{key}")
            if earlier is not None:
                return RedirectResponse(f"/cases/{earlier}", status_code=303)
        events = await _new_case_events(app, session)
        matches: list[dict[str, Any]] = []
        preview: Preview | None = None
        if body is not None:
            matches = await cases.likely_matches(
                session,
                domain,
                name_kana=body.resident.name_kana,
                birth_date=body.resident.birth_date,
                phone=body.resident.phone,
            )
            event = await staff_service.get_event(session, body.event_id)
            if event is None:
                errors["event_id"] = "相談会が見つかりません"
            elif action == "preview":
                try:
                    facts, consent = cases.facts_and_consent(body, event["event_date"])
                except Invalid as exc:
                    errors[exc.field] = exc.message
                else:
                    found = token_from_request(request)
                    preview = await app.preview.explain(facts, consent, found[0] if found else "")

    choice = values.get("resident_choice", "")
    known = {m["resident_id"] for m in matches}
    if choice not in known:
        choice = "new" if choice == "new" else ""
    values["resident_choice"] = choice
    notice = None
    if body is not None and not errors and action == "save":
        if matches and not choice:
            notice = "new.duplicates_confirm"  # staff must look at the hint before saving
        else:
            try:
                async with app.transaction() as session:
                    created = await cases.create_case(
                        session,
                        app.ports,
                        body,
                        taken_by=principal.username,
                        idempotency_key=f"form:{key}",
                        resident_id=None if choice in ("", "new") else choice,
                    )
            except Invalid as exc:
                errors[exc.field] = exc.message
            except Conflict as exc:
                errors[FORM_ERROR_KEY] = str(exc)
            else:
                return RedirectResponse(f"/cases/{created.case_id}", status_code=303)
    return render(
        request,
        "case_new.html",
        principal,
        status_code=422 if errors else 200,
        events=events,
        values=values,
        errors=errors,
        matches=matches,
        preview=preview,
        notice=notice,
    )


def _idempotency_key(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(uuid.uuid4())


# --- cases list and case page -----------------------------------------------------------------


@router.get("/cases")
async def cases_page(
    request: Request,
    event_id: str | None = None,
    status: str | None = None,
    programme: str | None = None,
    page: int = 1,
    principal: Principal = Depends(staff),
) -> Response:
    app = intake(request)
    filters = {
        "event_id": _id_or_none(event_id),
        "board_status": status if status in cases.BOARD_STATUSES else None,
        "programme": Programme(programme) if programme in Programme._value2member_map_ else None,
    }
    page = max(1, min(page, 10_000))
    async with app.transaction() as session:
        found = await cases.list_cases(session, who(principal), page=page, page_size=25, **filters)
        events = await staff_service.list_events(
            session,
            from_date=app.today() - timedelta(days=90),
            to_date=app.today() + timedelta(days=31),
        )
    pages = max(1, -(-found["total"] // found["page_size"]))
    return render(
        request,
        "cases.html",
        principal,
        found=found,
        filters=filters,
        events=events,
        pages=pages,
        page_link=lambda n: (
            "/cases?"
            + urlencode(
                {
                    k: v
                    for k, v in {
                        "event_id": event_id,
                        "status": status,
                        "programme": programme,
                        "page": n,
                    }.items()
                    if v
                }
            )
        ),
    )


@router.get("/cases/{case_id}")
async def case_page(
    request: Request, case_id: str, principal: Principal = Depends(staff)
) -> Response:
    app = intake(request)
    if not _id_or_none(case_id):
        raise _not_found()
    domain = who(principal)
    try:
        async with app.transaction() as session:
            view = await cases.case_view(session, domain, case_id, audit_as="case.page")
            full = "concerns" in view
            earlier = (
                await cases.earlier_visits(session, view["resident_id"], case_id) if full else []
            )
            trail = await audit.trail(session, case_id) if full else []
            statuses = await cases.referral_statuses(session, case_id)
    except NotFound:
        raise _not_found() from None
    return render(
        request,
        "case.html",
        principal,
        case=view,
        full=full,
        earlier=earlier,
        trail=trail,
        may_consent=full and access.can_change_consent(domain, statuses),
        may_move=bool(domain.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR}),
        referral_rows=[_referral_row(r) for r in view.get("referrals", [])],
    )


def _referral_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "awaiting_confirmation": referrals.awaiting(row)}


@router.get("/cases/{case_id}/stream")
async def case_stream(
    request: Request, case_id: str, principal: Principal = Depends(staff_passive)
) -> Response:
    app = intake(request)
    domain = who(principal)
    if not _id_or_none(case_id):
        raise _not_found()
    async with app.transaction() as session:
        if not access.can_view_case(domain, await cases.referral_statuses(session, case_id)):
            raise _not_found()

    async def render_referrals() -> str:
        async with app.transaction() as session:
            rows = await cases.referrals_of(session, case_id)
            routing = await cases.routing_of(session, case_id)
            food = await cases.food_status(session, case_id)
        return fragment(
            app,
            request,
            "_referrals.html",
            principal,
            referral_rows=[_referral_row(r) for r in rows],
            routing=routing,
            food=food,
        )

    return live(request, render_referrals)


@router.post("/cases/{case_id}/consent")
async def consent_submit(
    request: Request, case_id: str, principal: Principal = Depends(staff)
) -> Response:
    await check_csrf(request, principal)
    if not _id_or_none(case_id):
        raise _not_found()
    app = intake(request)
    form = await request.form()
    action = _text(form, "action")
    basis_code = _text(form, "basis") or SharingBasis.CONSENT.value
    if action not in ("give", "withdraw") or basis_code not in (
        SharingBasis.CONSENT.value,
        SharingBasis.SUPPORT_MEETING.value,
    ):
        raise HTTPException(422, "選択肢が正しくありません")
    try:
        async with app.transaction() as session:
            await cases.change_consent(
                session,
                app.ports,
                who(principal),
                case_id,
                give=action == "give",
                basis=SharingBasis(basis_code),
            )
    except NotFound:
        raise _not_found() from None
    except (Forbidden, Invalid):
        raise HTTPException(403, "この操作の権限がありません") from None
    return RedirectResponse(f"/cases/{case_id}#consent", status_code=303)


# --- programme inbox --------------------------------------------------------------------------


@router.get("/inbox")
async def inbox_page(
    request: Request, closed: bool = False, principal: Principal = Depends(staff)
) -> Response:
    domain = who(principal)
    _forbid_unless(StaffRole.PROGRAMME in domain.roles and bool(domain.programmes))
    async with intake(request).transaction() as session:
        items = await referrals.inbox(session, domain, include_closed=closed)
    return render(request, "inbox.html", principal, items=items, closed=closed)


@router.get("/inbox/stream")
async def inbox_stream(
    request: Request, closed: bool = False, principal: Principal = Depends(staff_passive)
) -> Response:
    domain = who(principal)
    _forbid_unless(StaffRole.PROGRAMME in domain.roles and bool(domain.programmes))
    app = intake(request)

    async def render_inbox() -> str:
        async with app.transaction() as session:
            items = await referrals.inbox_rows(session, domain, include_closed=closed)
        return fragment(app, request, "_inbox.html", principal, items=items, closed=closed)

    return live(request, render_inbox)


@router.post("/inbox/referrals/{referral_id}/respond")
async def inbox_respond(
    request: Request, referral_id: str, principal: Principal = Depends(staff)
) -> Response:
    await check_csrf(request, principal)
    app = intake(request)
    form = await request.form()
    action = _text(form, "action")
    reason = _text(form, "reason")[:500] or None
    outcome = _text(form, "outcome")[:1000] or None
    message = None
    if action not in ("accept", "decline", "start", "close") or not _id_or_none(referral_id):
        raise HTTPException(422, "操作が正しくありません")
    if find_unstorable([reason or "", outcome or ""]) is not None:
        message = "使用できない文字が含まれています"
    else:
        try:
            async with app.transaction() as session:
                await referrals.respond(
                    session,
                    app.ports.outbox,
                    who(principal),
                    referral_id,
                    action,  # type: ignore[arg-type]
                    reason=reason,
                    outcome=outcome,
                )
        except NotFound:
            raise _not_found() from None
        except Forbidden:
            raise HTTPException(403, "この操作の権限がありません") from None
        except (Conflict, Invalid) as exc:
            message = str(exc)
    if message is None:
        return RedirectResponse(f"/inbox#referral-{referral_id}", status_code=303)
    async with app.transaction() as session:
        items = await referrals.inbox(session, who(principal))
    return render(
        request,
        "inbox.html",
        principal,
        status_code=422,
        items=items,
        closed=False,
        error=message,
        error_referral=referral_id,
    )


# --- admin ------------------------------------------------------------------------------------


def _admin(principal: Principal) -> None:
    _forbid_unless(access.can_admin(who(principal)))


async def _admin_page(
    request: Request,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    app = intake(request)
    async with app.transaction() as session:
        venues = await staff_service.list_venues(session)
        events = await staff_service.list_events(session, from_date=app.today() - timedelta(days=7))
        people = await staff_service.list_staff(session)
        await audit.record(session, principal.username, "admin.view")
    return render(
        request,
        "admin.html",
        principal,
        status_code=status_code,
        venues=venues,
        events=events,
        people=people,
        errors=errors or {},
        saved=saved,
        today=app.today(),
    )


@router.get("/admin")
async def admin_page(
    request: Request, saved: bool = False, principal: Principal = Depends(staff)
) -> Response:
    _admin(principal)
    return await _admin_page(request, principal, saved=saved)


async def _admin_command(
    request: Request, principal: Principal, command: Callable[[Any, FormData], Awaitable[None]]
) -> Response:
    await check_csrf(request, principal)
    _admin(principal)
    form = await request.form()
    if find_unstorable([v for v in form.values() if isinstance(v, str)]) is not None:
        return await _admin_page(
            request, principal, errors={"form": "使用できない文字が含まれています"}, status_code=422
        )
    try:
        async with intake(request).transaction() as session:
            await command(session, form)
    except (Invalid, ValueError) as exc:
        field = exc.field if isinstance(exc, Invalid) else "form"
        message = exc.message if isinstance(exc, Invalid) else "入力内容が正しくありません"
        return await _admin_page(request, principal, errors={field: message}, status_code=422)
    except Conflict as exc:
        return await _admin_page(request, principal, errors={"form": str(exc)}, status_code=409)
    return RedirectResponse("/admin?saved=true", status_code=303)


@router.post("/admin/venues")
async def admin_venue(request: Request, principal: Principal = Depends(staff)) -> Response:
    async def save(session: Any, form: FormData) -> None:
        venue_id = _id_or_none(_text(form, "venue_id"))
        name = _text(form, "name")[:100]
        if venue_id is None:
            raise Invalid("venue_id", "会場IDは英数字・ハイフンで入力してください")
        if not name:
            raise Invalid("name", "会場名を入力してください")
        await staff_service.save_venue(
            session, principal.username, venue_id, name, _text(form, "address")[:200] or None
        )

    return await _admin_command(request, principal, save)


@router.post("/admin/events")
async def admin_event(request: Request, principal: Principal = Depends(staff)) -> Response:
    async def save(session: Any, form: FormData) -> None:
        await staff_service.create_event(
            session,
            principal.username,
            venue_id=_text(form, "venue_id"),
            event_date=date.fromisoformat(_text(form, "event_date")),
            opens_at=time.fromisoformat(_text(form, "opens_at")),
            closes_at=time.fromisoformat(_text(form, "closes_at")),
            programmes=[Programme(p) for p in form.getlist("programmes") if isinstance(p, str)],
        )

    return await _admin_command(request, principal, save)


def _staff_input(form: FormData, username: str) -> staff_service.StaffInput:
    if not _id_or_none(username):
        raise Invalid("username", "ユーザー名は英数字・ハイフン・下線で入力してください")
    display_name = _text(form, "display_name")[:100]
    if not display_name:
        raise Invalid("display_name", "表示名を入力してください")
    password = _text(form, "password")
    if password and len(password) < 8:
        raise Invalid("password", "パスワードは8文字以上にしてください")
    return staff_service.StaffInput(
        username=username,
        display_name=display_name,
        roles=frozenset(StaffRole(r) for r in form.getlist("roles") if isinstance(r, str)),
        programmes=frozenset(
            Programme(p) for p in form.getlist("programmes") if isinstance(p, str)
        ),
        venue_id=_text(form, "venue_id") or None,
        # The edit form marks that it has the checkbox: an unticked box is simply absent.
        active=bool(_text(form, "active")) if "has_active" in form else True,
        password=password or None,
    )


@router.post("/admin/staff")
async def admin_staff_create(request: Request, principal: Principal = Depends(staff)) -> Response:
    async def save(session: Any, form: FormData) -> None:
        staff_input = _staff_input(form, _text(form, "username"))
        await staff_service.save_staff(session, principal.username, staff_input, new=True)

    return await _admin_command(request, principal, save)


@router.get("/admin/staff/{username}")
async def admin_staff_page(
    request: Request, username: str, principal: Principal = Depends(staff)
) -> Response:
    _admin(principal)
    if not _id_or_none(username):
        raise _not_found()
    async with intake(request).transaction() as session:
        try:
            person = await staff_service.get_staff(session, username)
        except NotFound:
            raise _not_found() from None
        venues = await staff_service.list_venues(session)
    return render(request, "admin_staff.html", principal, person=person, venues=venues, errors={})


@router.post("/admin/staff/{username}")
async def admin_staff_update(
    request: Request, username: str, principal: Principal = Depends(staff)
) -> Response:
    async def save(session: Any, form: FormData) -> None:
        staff_input = _staff_input(form, username)
        try:
            await staff_service.save_staff(session, principal.username, staff_input, new=False)
        except NotFound:
            raise _not_found() from None

    return await _admin_command(request, principal, save)
