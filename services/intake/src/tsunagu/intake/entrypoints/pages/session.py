"""Logging in and out, and the start page for each role."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from tsunagu.intake.entrypoints.pages.rendering import (
    form_text,
    render,
    safe_next,
)
from tsunagu.intake.entrypoints.web import (
    find_unstorable,
    intake,
    set_session_cookie,
    staff,
    unstorable,
    who,
)
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import LoginLocked, retry_after
from tsunagu.shared.auth import COOKIE_NAME, CSRF_FIELD, Principal, check_csrf
from tsunagu.shared.contracts.codes import StaffRole
from tsunagu.shared.logs import get_logger

router = APIRouter()
log = get_logger(__name__)

LOGIN_CSRF_COOKIE = "tsunagu_login_csrf"


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
    target = safe_next(form_text(form, "next"))
    sent = form_text(form, CSRF_FIELD)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    principal = None
    genuine = bool(expected) and secrets.compare_digest(sent, expected)
    readable = find_unstorable([username, password]) is None
    locked: LoginLocked | None = None
    if genuine and username and password and readable:
        try:
            async with app.transaction() as session:
                principal = await staff_service.authenticate(
                    session, username, password, audit_as="auth.login"
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
    if StaffRole.MANAGER in domain.roles:
        return RedirectResponse("/reports", status_code=303)
    return RedirectResponse("/cases", status_code=303)
