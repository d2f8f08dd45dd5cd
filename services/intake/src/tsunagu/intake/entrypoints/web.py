"""What the API and the pages share: the service's parts, who is asking, sessions, languages.

Sessions: the browser holds the signed staff token in an HttpOnly cookie. It lives for
``session_idle_seconds`` and is re-issued on every request the person makes (a sliding idle
timeout) until ``token_ttl_seconds`` after they signed in, when they must sign in again. Only
tokens issued into the cookie slide: an API token sent as a cookie is never re-issued.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import date
from http.cookies import SimpleCookie
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsunagu.intake.adapters.routing_preview import RoutingPreview
from tsunagu.intake.domain import access
from tsunagu.intake.service_layer.cases import Ports
from tsunagu.intake.service_layer.errors import Conflict, Forbidden, Invalid, NotFound
from tsunagu.shared.auth import (
    COOKIE_NAME,
    USE_API,
    USE_COOKIE,
    Authenticator,
    Principal,
    TokenSigner,
)
from tsunagu.shared.clock import japan_today
from tsunagu.shared.contracts.codes import Programme, StaffRole
from tsunagu.shared.runtime import ServiceRuntime
from tsunagu.shared.settings import Settings
from tsunagu.shared.text import find_unstorable, storable

LANG_COOKIE = "tsunagu_lang"
LANGUAGES = ("ja", "en")
_REISSUE = "tsunagu.reissue"
_LANG = "tsunagu.lang"


@dataclass
class Intake:
    """The service's parts, built once in ``bootstrap`` and kept on ``app.state.intake``."""

    settings: Settings
    runtime: ServiceRuntime
    auth: Authenticator
    signer: TokenSigner
    ports: Ports
    preview: RoutingPreview
    templates: Jinja2Templates

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def today(self) -> date:
        return japan_today()

    def issue(self, principal: Principal, *, cookie: bool) -> str:
        """A token for the browser's cookie (slides) or for an API client (does not)."""
        return self.signer.issue(
            principal,
            self.settings.session_idle_seconds,
            use=USE_COOKIE if cookie else USE_API,
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One database transaction: everything inside commits together or not at all."""
        async with self.runtime.sessions() as session, session.begin():
            yield session


def intake(request: Request) -> Intake:
    found: Intake = request.app.state.intake
    return found


# --- who is asking ----------------------------------------------------------------------------


async def staff(request: Request) -> Principal:
    """The signed-in staff member (Bearer token or session cookie); slides a cookie session."""
    app = intake(request)
    principal = await app.auth.principal(request)
    if principal.via_cookie and principal.use == USE_COOKIE:
        request.scope[_REISSUE] = app.issue(principal, cookie=True)
    return principal


async def staff_pending(request: Request) -> Principal:
    """Like ``staff``, but also a sign-in that still owes a password change or a second
    factor: only for the pages and calls that settle it."""
    return await intake(request).auth.principal(request, allow_pending=True)


async def staff_passive(request: Request) -> Principal:
    """Like ``staff`` but not activity: a live stream must not keep an idle session alive."""
    return await intake(request).auth.principal(request)


def client_address(request: Request) -> str:
    """The address the request came from (uvicorn takes it from X-Forwarded-For only when the
    peer is a trusted proxy: ``FORWARDED_ALLOW_IPS``)."""
    return request.client.host if request.client else "unknown"


def who(principal: Principal) -> access.Principal:
    """The domain's view of a staff member; codes this service does not know grant nothing."""
    return access.Principal(
        username=principal.username,
        roles=frozenset(StaffRole(r) for r in principal.roles if r in _ROLE_CODES),
        programmes=frozenset(Programme(p) for p in principal.programmes if p in _PROGRAMME_CODES),
    )


_ROLE_CODES = frozenset(r.value for r in StaffRole)
_PROGRAMME_CODES = frozenset(p.value for p in Programme)


def set_session_cookie(response: Any, settings: Settings, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.session_idle_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )


def lang_of(request: Request) -> str:
    lang = request.scope.get(_LANG)
    return lang if lang in LANGUAGES else "ja"


class WebMiddleware:
    """Slides the session cookie and remembers ``?lang=`` (the security headers are shared:
    ``tsunagu.shared.http.SecurityHeaders``)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chosen = _query_lang(scope)
        scope[_LANG] = chosen or _cookie_lang(scope) or "ja"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                {k.lower() for k, _ in headers}
                token = scope.get(_REISSUE)
                sets_session = any(
                    k.lower() == b"set-cookie" and v.startswith(COOKIE_NAME.encode() + b"=")
                    for k, v in headers
                )
                if token and not sets_session:
                    headers.append((b"set-cookie", self._cookie(COOKIE_NAME, token)))
                if chosen:
                    headers.append((b"set-cookie", self._cookie(LANG_COOKIE, chosen, http=False)))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _cookie(self, name: str, value: str, *, http: bool = True) -> bytes:
        cookie: SimpleCookie = SimpleCookie()
        cookie[name] = value
        morsel = cookie[name]
        morsel["path"] = "/"
        morsel["samesite"] = "Lax"
        if http:
            morsel["httponly"] = True
            morsel["max-age"] = str(self.settings.session_idle_seconds)
        else:
            morsel["max-age"] = str(365 * 24 * 3600)
        if self.settings.cookie_secure:
            morsel["secure"] = True
        return morsel.OutputString().encode()


def _query_lang(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("latin-1")
    for part in query.split("&"):
        if part.startswith("lang=") and part[5:] in LANGUAGES:
            return part[5:]
    return None


def _cookie_lang(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:
                return None
            if LANG_COOKIE in cookie and cookie[LANG_COOKIE].value in LANGUAGES:
                return cookie[LANG_COOKIE].value
    return None


# --- input that cannot be stored --------------------------------------------------------------


def unstorable(value: str) -> bool:
    """NUL and lone surrogates: valid in JSON and URLs, but PostgreSQL text cannot hold them."""
    return not storable(value)


def refuse_unstorable(value: Any, where: str) -> None:
    """422 naming the field, like every other invalid field."""
    path = find_unstorable(value)
    if path is not None:
        raise RequestValidationError(
            [
                {
                    "type": "string_unstorable",
                    "loc": (where, *path),
                    "msg": "使用できない文字が含まれています (contains characters that cannot be stored)",
                    "input": None,
                }
            ]
        )


# --- service errors as HTTP -------------------------------------------------------------------


@contextmanager
def http_errors(where: str = "body") -> Iterator[None]:
    """Turn the service layer's refusals into statuses; an Invalid field is a 422 naming it."""
    try:
        yield
    except NotFound:
        raise HTTPException(404, "見つかりません (not found)") from None
    except Forbidden:
        raise HTTPException(403, "この操作の権限がありません (forbidden)") from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    except Invalid as exc:
        loc = (where, *exc.field.split("."))
        raise RequestValidationError(
            [{"type": exc.code, "loc": loc, "msg": exc.message_en, "message": exc.message}]
        ) from None
