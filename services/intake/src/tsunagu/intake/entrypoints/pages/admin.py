"""Administration: venues, events, staff accounts and their roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tsunagu.intake.domain import access
from tsunagu.intake.entrypoints.pages.rendering import (
    forbid_unless,
    form_text,
    form_values,
    id_or_none,
    not_found,
    render,
)
from tsunagu.intake.entrypoints.web import (
    find_unstorable,
    intake,
    staff,
    who,
)
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import Conflict, Invalid, NotFound
from tsunagu.shared.auth import Principal, check_csrf
from tsunagu.shared.contracts.codes import (
    Programme,
    StaffRole,
)

router = APIRouter()


def _admin(principal: Principal) -> None:
    forbid_unless(access.can_admin(who(principal)))


async def _admin_page(
    request: Request,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
    venue_form: dict[str, Any] | None = None,
    edit_venue: str | None = None,
) -> Response:
    """The admin page; the venue form holds ``venue_form`` (what was typed, after a refusal) or
    the venue ``edit_venue`` as saved, else nothing."""
    app = intake(request)
    async with app.transaction() as session:
        venues = await staff_service.list_venues(session)
        events = await staff_service.list_events(
            session, from_date=app.today() - timedelta(days=400)
        )
        people = await staff_service.list_staff(session)
        await audit.record(session, principal.username, "admin.view")
    if venue_form is None and edit_venue is not None:
        venue_form = next((v for v in venues if v["venue_id"] == edit_venue), None)
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
        venue_form=venue_form or {},
    )


@router.get("/admin")
async def admin_page(
    request: Request,
    saved: bool = False,
    venue: str | None = None,
    principal: Principal = Depends(staff),
) -> Response:
    """``?venue=`` fills the venue form with that venue, to change it."""
    _admin(principal)
    return await _admin_page(request, principal, saved=saved, edit_venue=venue)


async def _admin_command(
    request: Request,
    principal: Principal,
    command: Callable[[Any, FormData], Awaitable[None]],
    *,
    venue_form: bool = False,
) -> Response:
    """Run an admin form's command; a refusal shows the page again with the error (and, for
    the venue form, what was typed, so nothing is lost)."""
    await check_csrf(request, principal)
    _admin(principal)
    form = await request.form()
    typed = (
        {
            k: v
            for k, v in form_values(form).items()
            if isinstance(v, str) and find_unstorable(v) is None
        }
        if venue_form
        else None
    )
    if find_unstorable([v for v in form.values() if isinstance(v, str)]) is not None:
        return await _admin_page(
            request,
            principal,
            errors={"form": "使用できない文字が含まれています"},
            status_code=422,
            venue_form=typed,
        )
    try:
        async with intake(request).transaction() as session:
            await command(session, form)
    except (Invalid, ValueError) as exc:
        field = exc.field if isinstance(exc, Invalid) else "form"
        message = exc.message if isinstance(exc, Invalid) else "入力内容が正しくありません"
        return await _admin_page(
            request, principal, errors={field: message}, status_code=422, venue_form=typed
        )
    except Conflict as exc:
        return await _admin_page(
            request, principal, errors={"form": str(exc)}, status_code=409, venue_form=typed
        )
    return RedirectResponse("/admin?saved=true", status_code=303)


@router.post("/admin/venues")
async def admin_venue(request: Request, principal: Principal = Depends(staff)) -> Response:
    async def save(session: Any, form: FormData) -> None:
        venue_id = id_or_none(form_text(form, "venue_id"))
        name = form_text(form, "name")[:100]
        if venue_id is None:
            raise Invalid("venue_id", "会場IDは英数字・ハイフンで入力してください")
        if not name:
            raise Invalid("name", "会場名を入力してください")
        access = form_text(form, "access")
        if len(access) > 500:
            raise Invalid("access", "交通案内は500文字以内で入力してください")
        await staff_service.save_venue(
            session,
            principal.username,
            venue_id,
            name,
            form_text(form, "address")[:200] or None,
            access or None,
            name_kana=form_text(form, "name_kana"),
        )

    return await _admin_command(request, principal, save, venue_form=True)


@router.post("/admin/events")
async def admin_event(request: Request, principal: Principal = Depends(staff)) -> Response:
    async def save(session: Any, form: FormData) -> None:
        await staff_service.create_event(
            session,
            principal.username,
            venue_id=form_text(form, "venue_id"),
            event_date=date.fromisoformat(form_text(form, "event_date")),
            opens_at=time.fromisoformat(form_text(form, "opens_at")),
            closes_at=time.fromisoformat(form_text(form, "closes_at")),
            programmes=[Programme(p) for p in form.getlist("programmes") if isinstance(p, str)],
        )

    return await _admin_command(request, principal, save)


def _staff_input(form: FormData, username: str) -> staff_service.StaffInput:
    if not id_or_none(username):
        raise Invalid("username", "ユーザー名は英数字・ハイフン・下線で入力してください")
    display_name = form_text(form, "display_name")[:100]
    if not display_name:
        raise Invalid("display_name", "表示名を入力してください")
    password = form_text(form, "password")
    return staff_service.StaffInput(
        username=username,
        display_name=display_name,
        roles=frozenset(StaffRole(r) for r in form.getlist("roles") if isinstance(r, str)),
        programmes=frozenset(
            Programme(p) for p in form.getlist("programmes") if isinstance(p, str)
        ),
        venue_id=form_text(form, "venue_id") or None,
        # The edit form marks that it has the checkbox: an unticked box is simply absent.
        active=bool(form_text(form, "active")) if "has_active" in form else True,
        password=password or None,
    )


async def _save(
    request: Request,
    session: Any,
    principal: Principal,
    staff_input: staff_service.StaffInput,
    *,
    new: bool,
) -> None:
    app = intake(request)
    revoked = await staff_service.save_staff(
        session,
        principal.username,
        staff_input,
        new=new,
        outbox=app.ports.outbox,
        token_ttl_seconds=app.settings.token_ttl_seconds,
    )
    if revoked is not None:
        # Refused here as soon as the transaction commits (a moment early costs nothing).
        app.runtime.revocations.remember(revoked)


@router.post("/admin/staff")
async def admin_staff_create(request: Request, principal: Principal = Depends(staff)) -> Response:
    async def save(session: Any, form: FormData) -> None:
        staff_input = _staff_input(form, form_text(form, "username"))
        await _save(request, session, principal, staff_input, new=True)

    return await _admin_command(request, principal, save)


@router.get("/admin/staff/{username}")
async def admin_staff_page(
    request: Request, username: str, principal: Principal = Depends(staff)
) -> Response:
    _admin(principal)
    if not id_or_none(username):
        raise not_found()
    async with intake(request).transaction() as session:
        try:
            person = await staff_service.get_staff(session, username)
        except NotFound:
            raise not_found() from None
        venues = await staff_service.list_venues(session)
    return render(request, "admin_staff.html", principal, person=person, venues=venues, errors={})


@router.post("/admin/staff/{username}/totp/remove")
async def admin_staff_remove_totp(
    request: Request, username: str, principal: Principal = Depends(staff)
) -> Response:
    """Take the person's second factor off (a lost phone): their sign-ins end, and they set
    one up again at their next sign-in."""

    async def remove(session: Any, form: FormData) -> None:
        app = intake(request)
        if not id_or_none(username):
            raise not_found()
        try:
            revoked = await staff_service.remove_totp(
                session,
                principal.username,
                username,
                outbox=app.ports.outbox,
                token_ttl_seconds=app.settings.token_ttl_seconds,
            )
        except NotFound:
            raise not_found() from None
        if revoked is not None:
            app.runtime.revocations.remember(revoked)

    return await _admin_command(request, principal, remove)


@router.post("/admin/staff/{username}")
async def admin_staff_update(
    request: Request, username: str, principal: Principal = Depends(staff)
) -> Response:
    async def save(session: Any, form: FormData) -> None:
        staff_input = _staff_input(form, username)
        try:
            await _save(request, session, principal, staff_input, new=False)
        except NotFound:
            raise not_found() from None

    return await _admin_command(request, principal, save)
