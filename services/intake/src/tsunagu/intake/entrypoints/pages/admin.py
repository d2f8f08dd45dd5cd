"""Administration: venues, events, staff accounts and their roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from tsunagu.shared.auth import CSRF_FIELD, Principal, check_csrf
from tsunagu.shared.contracts.codes import (
    Programme,
    StaffRole,
)

router = APIRouter()


def _admin(principal: Principal) -> None:
    forbid_unless(access.can_admin(who(principal)))


@dataclass(frozen=True)
class Refusal:
    """A form the admin pages refused: which one, why (field → Japanese message), the status,
    and what was typed (never a password), so the form comes back as it was sent."""

    form: str
    errors: dict[str, str]
    status_code: int
    typed: dict[str, Any]
    password_typed: bool = False


async def _admin_page(
    request: Request,
    principal: Principal,
    *,
    saved: bool = False,
    refusal: Refusal | None = None,
    edit_venue: str | None = None,
) -> Response:
    """The admin page; the form ``refusal`` names holds what was typed, with its errors at its
    fields; the venue form otherwise holds the venue ``edit_venue`` as saved, else nothing."""
    app = intake(request)
    async with app.transaction() as session:
        venues = await staff_service.list_venues(session)
        events = await staff_service.list_events(
            session, from_date=app.today() - timedelta(days=400)
        )
        people = await staff_service.list_staff(session)
        await audit.record(session, principal.username, "admin.view")
    venue_form = next((v for v in venues if v["venue_id"] == edit_venue), None)
    return render(
        request,
        "admin.html",
        principal,
        status_code=refusal.status_code if refusal else 200,
        venues=venues,
        events=events,
        people=people,
        errors=refusal.errors if refusal else {},
        refused=refusal.form if refusal else None,
        typed=refusal.typed if refusal else {},
        password_typed=refusal.password_typed if refusal else False,
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


#: The admin forms' checkbox groups: kept as lists, an empty one when nothing was ticked.
_CHECKBOXES = ("roles", "programmes")
#: Never sent back to the browser: the password, and the CSRF token (the page has its own).
_NOT_KEPT = ("password", CSRF_FIELD)
_UNSTORABLE = "使用できない文字が含まれています"
_PASSWORD_AGAIN = "（パスワードは表示しないため、もう一度入力してください）"  # noqa: S105 (words)


def _typed(form: FormData) -> dict[str, Any]:
    """What was typed into an admin form, to fill it in again: never the password, and no
    value that could not be stored (it is refused, and left out here)."""
    values = form_values(form, lists=_CHECKBOXES)
    typed: dict[str, Any] = {name: [] for name in _CHECKBOXES}
    for name, value in values.items():
        if name in _NOT_KEPT:
            continue
        if isinstance(value, list):
            typed[name] = [v for v in value if find_unstorable(v) is None]
        elif find_unstorable(value) is None:
            typed[name] = value
    return typed


async def _admin_command(
    request: Request,
    principal: Principal,
    form_name: str,
    command: Callable[[Any, FormData], Awaitable[None]],
    *,
    show: Callable[[Refusal], Awaitable[Response]] | None = None,
) -> Response:
    """Run an admin form's command; a refusal shows the form again (``show``, by default the
    admin page with the form ``form_name``) with the error at its field and what was typed,
    so nothing is lost but the password, which is never sent back."""
    await check_csrf(request, principal)
    _admin(principal)
    form = await request.form()
    errors: dict[str, str] = {}
    status_code = 422
    bad = find_unstorable(form_values(form, lists=_CHECKBOXES))
    if bad is not None:
        errors[str(bad[0])] = _UNSTORABLE
    else:
        try:
            async with intake(request).transaction() as session:
                await command(session, form)
        except Invalid as exc:
            errors[exc.field] = exc.message
        except ValueError:  # a code no form offers
            errors["form"] = "入力内容が正しくありません"
        except Conflict as exc:
            errors[exc.field or "form"] = str(exc)
            status_code = 409
        else:
            return RedirectResponse("/admin?saved=true", status_code=303)
    password_typed = bool(form_text(form, "password"))
    if password_typed and "password" in errors:
        errors["password"] += _PASSWORD_AGAIN
    refusal = Refusal(form_name, errors, status_code, _typed(form), password_typed)
    if show is None:
        return await _admin_page(request, principal, refusal=refusal)
    return await show(refusal)


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

    return await _admin_command(request, principal, "venue", save)


@router.post("/admin/events")
async def admin_event(request: Request, principal: Principal = Depends(staff)) -> Response:
    async def save(session: Any, form: FormData) -> None:
        await staff_service.create_event(
            session,
            principal.username,
            venue_id=form_text(form, "venue_id"),
            event_date=_form_date(form, "event_date"),
            opens_at=_form_time(form, "opens_at"),
            closes_at=_form_time(form, "closes_at"),
            programmes=[Programme(p) for p in form.getlist("programmes") if isinstance(p, str)],
        )

    return await _admin_command(request, principal, "event", save)


def _form_date(form: FormData, name: str) -> date:
    try:
        return date.fromisoformat(form_text(form, name))
    except ValueError:
        raise Invalid(name, "日付を正しく入力してください（例: 2030-01-15）") from None


def _form_time(form: FormData, name: str) -> time:
    """A time of day as the form's time input sends it; one with a UTC offset is refused (the
    event's hours are the venue's clock)."""
    try:
        value = time.fromisoformat(form_text(form, name))
    except ValueError:
        value = None
    if value is None or value.tzinfo is not None:
        raise Invalid(name, "時刻を正しく入力してください（例: 10:00）")
    return value


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

    return await _admin_command(request, principal, "staff", save)


@router.get("/admin/staff/{username}")
async def admin_staff_page(
    request: Request, username: str, principal: Principal = Depends(staff)
) -> Response:
    _admin(principal)
    return await _staff_page(request, principal, username)


async def _staff_page(
    request: Request, principal: Principal, username: str, refusal: Refusal | None = None
) -> Response:
    """A staff member's edit page: the account as saved, or, after a refusal, as typed."""
    if not id_or_none(username):
        raise not_found()
    async with intake(request).transaction() as session:
        try:
            person = await staff_service.get_staff(session, username)
        except NotFound:
            raise not_found() from None
        venues = await staff_service.list_venues(session)
    if refusal is not None:
        typed = refusal.typed
        person |= {
            "display_name": typed.get("display_name", ""),
            "roles": typed["roles"],
            "programmes": typed["programmes"],
            "venue_id": typed.get("venue_id") or None,
            "active": bool(typed.get("active")),
        }
    return render(
        request,
        "admin_staff.html",
        principal,
        status_code=refusal.status_code if refusal else 200,
        person=person,
        venues=venues,
        errors=refusal.errors if refusal else {},
        password_typed=refusal.password_typed if refusal else False,
    )


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

    return await _admin_command(request, principal, "totp", remove)


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

    async def show(refusal: Refusal) -> Response:
        return await _staff_page(request, principal, username, refusal)

    return await _admin_command(request, principal, "staff", save, show=show)
