"""Logging in and out, and the start page for each role."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from tsunagu.intake.adapters import totp
from tsunagu.intake.entrypoints.i18n import translator
from tsunagu.intake.entrypoints.pages.rendering import (
    form_text,
    render,
    safe_next,
)
from tsunagu.intake.entrypoints.web import (
    client_address,
    find_unstorable,
    intake,
    lang_of,
    set_session_cookie,
    staff,
    staff_pending,
    unstorable,
    who,
)
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import Invalid, LoginLocked, retry_after
from tsunagu.shared.auth import COOKIE_NAME, CSRF_FIELD, Principal, check_csrf
from tsunagu.shared.contracts.codes import StaffRole
from tsunagu.shared.logs import get_logger

router = APIRouter()
log = get_logger(__name__)

LOGIN_CSRF_COOKIE = "tsunagu_login_csrf"


def t_of(request: Request) -> Any:
    return translator(lang_of(request))


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(16)
    response = render(request, "login.html", next=safe_next(next), login_csrf=token, error=None)
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
    username = form_text(form, "username")[:64]
    password = form_text(form, "password")[:256]
    otp = form_text(form, "otp")[:16] or None
    target = safe_next(form_text(form, "next"))
    sent = form_text(form, CSRF_FIELD)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    principal = None
    genuine = bool(expected) and secrets.compare_digest(sent, expected)
    readable = find_unstorable([username, password, otp or ""]) is None
    locked: LoginLocked | None = None
    if genuine and username and password and readable:
        try:
            async with app.transaction() as session:
                principal = await staff_service.authenticate(
                    session,
                    username,
                    password,
                    otp=otp,
                    address=client_address(request),
                    audit_as="auth.login",
                    master=app.ports.keys.master,
                )
        except LoginLocked as exc:
            locked = exc
    if principal is None:
        # A form left open past its token's hour (or its cookie gone) is not a wrong password:
        # say so, and hand out a fresh form with the username kept.
        expired = not genuine
        log.info("login_refused", locked=locked is not None, form_expired=expired)
        token = secrets.token_urlsafe(16)
        error = "login.form_expired" if expired else "login.failed"
        response = render(
            request,
            "login.html",
            status_code=(400 if expired else 401) if locked is None else 429,
            next=target,
            login_csrf=token,
            error=error if locked is None else "login.locked",
            username=username if not unstorable(username) else "",
        )
        if locked is not None:
            response.headers["Retry-After"] = str(retry_after(locked))
        _set_login_csrf(request, response, token)
        return response
    if principal.pending == staff_service.PENDING_PASSWORD:
        target = "/account/password"
    elif principal.pending == staff_service.PENDING_TOTP_SETUP:
        target = "/account/totp"
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, app.settings, app.issue(principal, cookie=True))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, principal: Principal = Depends(staff_pending)) -> Response:
    """End this sign-in in every service, not just this browser's cookie."""
    await check_csrf(request, principal)
    app = intake(request)
    async with app.transaction() as session:
        revoked = await staff_service.revoke(
            session,
            app.ports.outbox,
            principal.username,
            session_id=principal.session_id,
            token_ttl_seconds=app.settings.token_ttl_seconds,
        )
        await audit.record(session, principal.username, "auth.logout")
    app.runtime.revocations.remember(revoked)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/account/password")
async def password_page(
    request: Request, principal: Principal = Depends(staff_pending)
) -> Response:
    return render(request, "account_password.html", principal, errors={},
                  forced=principal.pending == staff_service.PENDING_PASSWORD)  # fmt: skip


@router.post("/account/password")
async def password_change(
    request: Request, principal: Principal = Depends(staff_pending)
) -> Response:
    await check_csrf(request, principal)
    app = intake(request)
    form = await request.form()
    current = form_text(form, "current_password")[:256]
    new = form_text(form, "new_password")[:256]
    errors: dict[str, str] = {}
    if find_unstorable([current, new]) is not None:
        errors["new_password"] = "使用できない文字が含まれています"  # noqa: S105
    elif new != form_text(form, "new_password_again")[:256]:
        errors["new_password"] = t_of(request)("account.password.mismatch")
    else:
        try:
            async with app.transaction() as session:
                revoked = await staff_service.change_password(
                    session,
                    app.ports.outbox,
                    principal.username,
                    current,
                    new,
                    token_ttl_seconds=app.settings.token_ttl_seconds,
                )
        except Invalid as exc:
            errors[exc.field] = exc.message
    if errors:
        return render(request, "account_password.html", principal, errors=errors, status_code=422,
                      forced=principal.pending == staff_service.PENDING_PASSWORD)  # fmt: skip
    app.runtime.revocations.remember(revoked)
    pending = "" if principal.pending == staff_service.PENDING_PASSWORD else principal.pending
    fresh = replace(principal, version=revoked.version or 0, session_id="", pending=pending)
    target = "/account/totp" if pending == staff_service.PENDING_TOTP_SETUP else "/"
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, app.settings, app.issue(fresh, cookie=True))
    return response


@router.get("/account/totp")
async def totp_page(request: Request, principal: Principal = Depends(staff_pending)) -> Response:
    if principal.pending == staff_service.PENDING_PASSWORD:
        return RedirectResponse("/account/password", status_code=303)
    return await _totp_form(request, principal, errors={}, status_code=200)


async def _totp_form(
    request: Request,
    principal: Principal,
    *,
    errors: dict[str, str],
    status_code: int,
    retry: int | None = None,
) -> Response:
    """The set-up page with the secret waiting on the server (sealed, ten minutes): the same
    one on a reload or after a wrong code, a new one once it has expired."""
    app = intake(request)
    async with app.transaction() as session:
        secret = await staff_service.totp_setup_secret(
            session, principal.username, app.ports.keys.master
        )
        replacing = (await staff_service.get_staff(session, principal.username))["totp_enabled"]
    uri = totp.provisioning_uri(secret, principal.username)
    qr = totp.qr_svg(uri, t_of(request)("account.totp.qr"))
    response = render(request, "account_totp.html", principal, secret=secret, errors=errors,
                      status_code=status_code, uri=uri, qr=qr, replacing=replacing)  # fmt: skip
    if retry is not None:
        response.headers["Retry-After"] = str(retry)
    return response


@router.post("/account/totp")
async def totp_setup(request: Request, principal: Principal = Depends(staff_pending)) -> Response:
    await check_csrf(request, principal)
    if principal.pending == staff_service.PENDING_PASSWORD:
        return RedirectResponse("/account/password", status_code=303)
    app = intake(request)
    form = await request.form()
    code = form_text(form, "otp")[:16]
    current = form_text(form, "current_otp")[:16] or None
    try:
        async with app.transaction() as session:
            done = await staff_service.set_totp(
                session,
                principal.username,
                code,
                app.ports.keys.master,
                current_code=current,
                address=client_address(request),
            )
    except Invalid as exc:
        return await _totp_form(request, principal, errors={"otp": exc.message}, status_code=422)
    except LoginLocked as exc:
        return await _totp_form(request, principal, status_code=429, retry=retry_after(exc),
                                errors={"current_otp": t_of(request)("login.locked")})  # fmt: skip
    if not done:
        log.info("totp_replacement_refused")
        return await _totp_form(request, principal, status_code=422,
                                errors={"current_otp": t_of(request)("account.totp.current_wrong")})  # fmt: skip
    response = RedirectResponse("/", status_code=303)
    fresh = replace(principal, pending="")
    set_session_cookie(response, app.settings, app.issue(fresh, cookie=True))
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
    if StaffRole.MANAGER in domain.roles:
        return RedirectResponse("/reports", status_code=303)
    return RedirectResponse("/cases", status_code=303)
