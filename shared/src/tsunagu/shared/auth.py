"""Staff authentication shared by every service: a short-lived signed token with user and roles.

Intake alone holds the Ed25519 private key and issues tokens (``POST /api/v1/auth/token`` and its
login page); every service verifies them with the public key (ADR 7). A token names its
audience (the services that may accept it), its own id (``jti``), the sign-in it belongs to
(``sid``), the staff member's token version (``ver``) and whether it was issued as a browser
cookie (``use``). Browsers carry it in an HttpOnly cookie, so one login serves every staff page;
API clients send it as ``Authorization: Bearer``. Revoked sign-ins and versions are refused
through a ``Revocations`` view that each service keeps from intake's events (ADR 16).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import HTTPException, Request, status

from tsunagu.shared.contracts.codes import StaffRole

COOKIE_NAME = "tsunagu_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_ALGORITHM = "EdDSA"
_ISSUER = "tsunagu"
#: Every service that accepts staff tokens; a token names the ones it is meant for.
SERVICES = ("intake", "routing", "notify", "food_distribution")
#: ``use`` claim: issued into the browser's cookie (slides) or handed to an API client (never).
USE_COOKIE = "cookie"
USE_API = "api"


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
    #: This token's id; the sign-in it belongs to (kept when a cookie slides); the staff
    #: member's token version when it was issued; how it was issued (``use`` claim).
    token_id: str = ""
    session_id: str = ""
    version: int = 0
    use: str = USE_API
    expires_at: int = 0
    #: Set when the sign-in still owes a password change or a second factor: such a token
    #: opens only the pages that settle it (intake), and nothing in the other services.
    pending: str = ""

    def has(self, *roles: StaffRole | str) -> bool:
        return bool(self.roles & {str(r) for r in roles})

    @property
    def is_admin(self) -> bool:
        return StaffRole.ADMIN.value in self.roles

    def may(self, *roles: StaffRole | str) -> bool:
        """Holds one of ``roles``, or is an admin: the one rule behind every role check."""
        return self.is_admin or self.has(*roles)


# --- keys ---------------------------------------------------------------------------------------


def generate_keypair() -> tuple[str, str]:
    """A new Ed25519 key pair as PEM text: (private, public)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private, public_pem(key.public_key())


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_private_key(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the signing key must be an Ed25519 private key")
    return key


def load_public_key(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the verifying key must be an Ed25519 public key")
    return key


# --- tokens -------------------------------------------------------------------------------------


class TokenSigner:
    """Issues staff tokens; only intake has one (it needs the private key)."""

    def __init__(self, private_key_pem: str) -> None:
        self._key = load_private_key(private_key_pem)

    @property
    def public_key_pem(self) -> str:
        return public_pem(self._key.public_key())

    def issue(
        self,
        principal: Principal,
        ttl_seconds: int,
        *,
        audience: Iterable[str] = SERVICES,
        use: str = USE_API,
        now: float | None = None,
    ) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": _ISSUER,
            "aud": sorted(set(audience)),
            "sub": principal.username,
            "jti": uuid.uuid4().hex,
            "sid": principal.session_id or uuid.uuid4().hex,
            "ver": principal.version,
            "use": use,
            "name": principal.display_name,
            "roles": sorted(principal.roles),
            "programmes": sorted(principal.programmes),
            "venue": principal.venue_id,
            "csrf": principal.csrf or secrets.token_urlsafe(16),
            "auth_time": principal.auth_time or issued,
            "iat": issued,
            "exp": issued + ttl_seconds,
        }
        if principal.pending:
            claims["pending"] = principal.pending
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM)


class TokenVerifier:
    """Checks a token's signature (public key), issuer, audience and age."""

    def __init__(self, public_key_pem: str, audience: str) -> None:
        self._key = load_public_key(public_key_pem)
        self.audience = audience

    def verify(self, token: str, *, max_age_seconds: int | None = None) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],  # never "none", never HS256 with a public key
                issuer=_ISSUER,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "aud", "jti", "sid", "ver"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(type(exc).__name__) from exc
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
            token_id=str(claims["jti"]),
            session_id=str(claims["sid"]),
            version=int(claims["ver"]),
            use=str(claims.get("use", USE_API)),
            expires_at=int(claims["exp"]),
            pending=str(claims.get("pending", "")),
        )


def issue_token(
    principal: Principal,
    private_key_pem: str,
    ttl_seconds: int,
    *,
    audience: Iterable[str] = SERVICES,
    use: str = USE_API,
    now: float | None = None,
) -> str:
    """One token, for a caller that signs once (tests, tools); services keep a ``TokenSigner``."""
    return TokenSigner(private_key_pem).issue(
        principal, ttl_seconds, audience=audience, use=use, now=now
    )


def verify_token(
    token: str, public_key_pem: str, *, audience: str, max_age_seconds: int | None = None
) -> Principal:
    return TokenVerifier(public_key_pem, audience).verify(token, max_age_seconds=max_age_seconds)


def token_from_request(request: Request) -> tuple[str, bool] | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        return cookie, True
    return None


# --- revocation ---------------------------------------------------------------------------------


class Revocations(Protocol):
    """What a service knows of ended sign-ins (kept from intake's ``staff_sessions_revoked``)."""

    async def revoked(self, principal: Principal) -> bool: ...


class NothingRevoked:
    """For unit tests of routes only: every well-signed token stands."""

    async def revoked(self, principal: Principal) -> bool:
        return False


class Authenticator:
    """FastAPI dependencies for staff authentication and role checks."""

    def __init__(
        self,
        verifier: TokenVerifier,
        max_age_seconds: int,
        revocations: Revocations,
        *,
        allow_pending: bool = False,
    ) -> None:
        self.verifier = verifier
        self.max_age_seconds = max_age_seconds
        self.revocations = revocations
        self.allow_pending = allow_pending

    async def principal(self, request: Request, *, allow_pending: bool | None = None) -> Principal:
        found = token_from_request(request)
        if found is None:
            raise AuthError("no token")
        token, via_cookie = found
        principal = self.verifier.verify(token, max_age_seconds=self.max_age_seconds)
        if await self.revocations.revoked(principal):
            raise AuthError("revoked")
        pending_ok = self.allow_pending if allow_pending is None else allow_pending
        if principal.pending and not pending_ok:
            raise AuthError("sign-in not finished")
        if via_cookie:
            principal = replace(principal, via_cookie=True)
        request.state.principal = principal
        return principal

    def require(self, *roles: StaffRole | str) -> Any:
        """A dependency that admits staff holding any of ``roles`` (admins always)."""

        async def dependency(request: Request) -> Principal:
            principal = await self.principal(request)
            if roles and not principal.may(*roles):
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
