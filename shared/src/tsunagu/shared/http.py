"""The HTTP side every service shares: health, readiness, metrics, body limits, auth errors,
the security headers of every page, and unexpected errors answered without personal data
(all refusals in the one shape of :mod:`tsunagu.shared.errors`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote

import asyncpg
from aiokafka import errors as kafka_errors
from fastapi import FastAPI, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Receive, Scope, Send

from tsunagu.shared import errors
from tsunagu.shared.auth import AuthError
from tsunagu.shared.errors import RETRY_AFTER_SECONDS, error_response
from tsunagu.shared.faults import is_transient
from tsunagu.shared.internal import KeyUnavailable
from tsunagu.shared.logs import describe_error, get_logger

log = get_logger(__name__)

ReadinessCheck = tuple[str, Callable[[], Awaitable[Any]]]

UNAVAILABLE = (
    "データベースに一時的に接続できません。しばらくしてからもう一度お試しください。"
    "入力した内容は失われていません。"
)
KEY_UNAVAILABLE = (
    "相談者の情報を開く鍵を受付から今は取得できません。しばらくしてからもう一度お試しください。"
)
#: Where a transient fault can surface from; ``is_transient`` decides (else it stays a 500).
FAULT_TYPES: tuple[type[Exception], ...] = (
    sa_exc.SQLAlchemyError,
    OSError,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
    kafka_errors.KafkaError,
)


class BodyLimit:
    """Refuses request bodies larger than ``max_bytes`` with 413, before the app reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _too_large(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(413)
    await response(scope, receive, send)


#: Every response of every service. Inline styles are allowed (the services' pages and
#: letters carry their own); scripts come from the service's own files only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
#: The interactive API docs load their viewer from its CDN.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    # Browsers honour it only over HTTPS, where production runs (behind the TLS proxy).
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
_DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    """One set of security headers for every service's responses; pages (HTML) are never
    cached, since they show personal data. Headers a route set itself are kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(_DOCS_PATHS)
        policy = DOCS_CONTENT_SECURITY_POLICY if docs else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for name, value in (
                    *SECURITY_HEADERS,
                    (b"content-security-policy", policy.encode()),
                ):
                    if name not in names:
                        headers.append((name, value))
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html") and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class QuietErrors:
    """An unexpected error becomes a plain 500, logged as its class and SQLSTATE only: the
    server's own traceback would quote the database's message (a key's values) and the
    statement's parameters, which are what residents typed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            log.error(
                "request_failed",
                method=scope.get("method"),
                route=_route_of(scope),
                error=describe_error(exc),
            )
            if not started:
                response = error_response(500)
                await response(scope, receive, send)


def _route_of(scope: Scope) -> str:
    """The route's pattern (``/api/v1/cases/{case_id}``), never the path with its values."""
    route = scope.get("route")
    return str(getattr(route, "path", "")) or "?"


def create_app(
    *,
    title: str,
    service: str,
    login_url: str,
    readiness: Sequence[ReadinessCheck],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    max_body_bytes: int = 256 * 1024,
    version: str = "0.1.0",
    asyncapi: Callable[[], dict[str, Any]] | None = None,
) -> FastAPI:
    """The service's app; ``asyncapi`` builds its AsyncAPI document, served at
    ``/asyncapi.yaml`` and ``/asyncapi.json``."""
    app = FastAPI(title=title, version=version, lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(QuietErrors)
    app.add_middleware(SecurityHeaders)
    errors.install(app)
    if asyncapi is not None:
        from tsunagu.shared.asyncapi import routes

        app.include_router(routes(asyncapi))

    @app.exception_handler(AuthError)
    async def _unauthenticated(request: Request, exc: AuthError) -> Response:
        if "text/html" in request.headers.get("accept", "") and request.method == "GET":
            target = quote(str(request.url), safe="")
            return RedirectResponse(f"{login_url}?next={target}", status_code=303)
        return error_response(401, headers={"WWW-Authenticate": "Bearer"})

    async def _unavailable(request: Request, exc: Exception) -> Response:
        """The database (or the broker) is unreachable: 503 with ``Retry-After``, so a client
        or a proxy retries; anything else is a real error and stays a 500 (ADR 10)."""
        if not is_transient(exc):
            raise exc
        log.warning("request_unavailable", path=request.url.path, error=type(exc).__name__)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if "text/html" in request.headers.get("accept", ""):
            page = (
                '<!doctype html><html lang="ja"><meta charset="utf-8">'
                f"<title>一時的に利用できません</title><p>{UNAVAILABLE}</p></html>"
            )
            return HTMLResponse(page, status_code=503, headers=headers)
        return error_response(
            503, message=UNAVAILABLE, message_en="Service temporarily unavailable", headers=headers
        )

    for fault in FAULT_TYPES:
        app.add_exception_handler(fault, _unavailable)

    @app.exception_handler(KeyUnavailable)
    async def _key_unavailable(request: Request, exc: KeyUnavailable) -> Response:
        """Intake could not give a resident's key (down, slow past the timeout, or refusing):
        what needs it cannot be shown now, and can in a moment (ADR 12). 503 with
        ``Retry-After``, like a database away, never a 500."""
        log.warning("request_key_unavailable", path=request.url.path, error=str(exc))
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if "text/html" in request.headers.get("accept", ""):
            page = (
                '<!doctype html><html lang="ja"><meta charset="utf-8">'
                f"<title>一時的に表示できません</title><p>{KEY_UNAVAILABLE}</p></html>"
            )
            return HTMLResponse(page, status_code=503, headers=headers)
        return error_response(
            503,
            "key_unavailable",
            KEY_UNAVAILABLE,
            "A resident's key cannot be had from intake just now; try again shortly",
            headers=headers,
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        results: dict[str, str] = {}
        ok = True
        for name, check in readiness:
            try:
                value = await asyncio.wait_for(check(), timeout=3)
                good = value is not False
            except Exception as exc:
                good = False
                log.warning("readiness_check_failed", check=name, error=type(exc).__name__)
            results[name] = "ok" if good else "unavailable"
            ok = ok and good
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": results},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
