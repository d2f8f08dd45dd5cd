"""Staff authentication shared by every service: a short-lived signed token with user and roles.

Intake issues it (``POST /api/v1/auth/token`` and its login page); every service verifies it with
the shared ``TSUNAGU_AUTH_SECRET``. Browsers carry the same token in an HttpOnly cookie, so one
login serves every staff page; API clients send it as ``Authorization: Bearer``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from fastapi import HTTPException, Request, status

from tsunagu.shared.contracts.codes import StaffRole

COOKIE_NAME = "tsunagu_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_ALGORITHM = "HS256"
_ISSUER = "tsunagu"


class AuthError(Exception):
    """The request carries no valid staff token."""


@dataclass(frozen=True)
class Principal:
    """The staff member making a request."""

    username: str
    roles: frozenset[str]
    programmes: frozenset[str] = field(default_factory=frozenset)
    display_name: str = ""
    venue_id: str | None = None
    csrf: str = ""
    auth_time: int = 0
    via_cookie: bool = False

    def has(self, *roles: StaffRole | str) -> bool:
        return bool(self.roles & {str(r) for r in roles})

    @property
    def is_admin(self) -> bool:
        return StaffRole.ADMIN.value in self.roles


def issue_token(
    principal: Principal, secret: str, ttl_seconds: int, *, now: float | None = None
) -> str:
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "iss": _ISSUER,
        "sub": principal.username,
        "name": principal.display_name,
        "roles": sorted(principal.roles),
        "programmes": sorted(principal.programmes),
        "venue": principal.venue_id,
        "csrf": principal.csrf or secrets.token_urlsafe(16),
        "auth_time": principal.auth_time or issued,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_token(token: str, secret: str, *, max_age_seconds: int | None = None) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["exp", "sub", "iat"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(str(exc)) from exc
    auth_time = int(claims.get("auth_time", claims["iat"]))
    if max_age_seconds is not None and time.time() - auth_time > max_age_seconds:
        raise AuthError("session too old")
    return Principal(
        username=claims["sub"],
        roles=frozenset(claims.get("roles", ())),
        programmes=frozenset(claims.get("programmes", ())),
        display_name=claims.get("name", ""),
        venue_id=claims.get("venue"),
        csrf=claims.get("csrf", ""),
        auth_time=auth_time,
    )


def token_from_request(request: Request) -> tuple[str, bool] | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        return cookie, True
    return None


class Authenticator:
    """FastAPI dependencies for staff authentication and role checks."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self.secret = secret
        self.max_age_seconds = max_age_seconds

    def principal(self, request: Request) -> Principal:
        found = token_from_request(request)
        if found is None:
            raise AuthError("no token")
        token, via_cookie = found
        principal = verify_token(token, self.secret, max_age_seconds=self.max_age_seconds)
        if via_cookie:
            principal = Principal(**{**principal.__dict__, "via_cookie": True})
        request.state.principal = principal
        return principal

    def require(self, *roles: StaffRole | str) -> Any:
        """A dependency that admits staff holding any of ``roles`` (admins always)."""

        def dependency(request: Request) -> Principal:
            principal = self.principal(request)
            if roles and not (principal.is_admin or principal.has(*roles)):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "この操作の権限がありません")
            return principal

        return dependency


async def check_csrf(request: Request, principal: Principal) -> None:
    """Cookie-authenticated form posts must echo the session's CSRF token."""
    if not principal.via_cookie or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, principal.csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "CSRF トークンが正しくありません")
