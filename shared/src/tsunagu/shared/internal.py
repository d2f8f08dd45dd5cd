"""Calls between the services on their internal endpoints (``/internal/v1/...``), ADR 12.

A calling service names itself (``X-Tsunagu-Service``) and presents its own credential
(``Authorization: Service <credential>``); the receiving service admits only the callers it
names, with the credential it expects of each (``Settings.credential_of``). Staff tokens are
never accepted here, and these endpoints are not part of the staff API.

``IntakeKeys`` is the client side of intake's key endpoint, with a short in-process cache.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.shared import audit
from tsunagu.shared.crypto import CachedKeys, Purpose
from tsunagu.shared.settings import Settings

SERVICE_HEADER = "x-tsunagu-service"
SCHEME = "service "


def caller_headers(settings: Settings) -> dict[str, str]:
    return {
        SERVICE_HEADER: settings.service,
        "authorization": SCHEME + settings.own_credential(),
    }


def require_service(settings: Settings, *allowed: str) -> Any:
    """A FastAPI dependency admitting only the named services; returns the caller's name."""

    def dependency(request: Request) -> str:
        caller = request.headers.get(SERVICE_HEADER, "")
        header = request.headers.get("authorization", "")
        presented = header[len(SCHEME) :] if header.lower().startswith(SCHEME) else ""
        expected = settings.credential_of(caller) if caller in allowed else None
        if not presented or expected is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "service credential required")
        if not secrets.compare_digest(presented.encode(), expected.encode()):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "service credential required")
        return caller

    return dependency


#: Residents asked for in one request of ``IntakeKeys.prefetch`` (intake takes up to 500).
KEYS_PER_REQUEST = 200


class KeyUnavailable(Exception):
    """Intake could not be asked for a key (down, or refused us): a transient fault."""


class IntakeKeys(CachedKeys):
    """Residents' purpose keys from intake, under this service's own credential, cached."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None):
        super().__init__(
            self._fetch_key, ttl_seconds=settings.key_cache_seconds, fetch_many=self._fetch_keys
        )
        self.settings = settings
        self._client = httpx.AsyncClient(
            base_url=settings.intake_base, timeout=5.0, transport=transport
        )

    async def _fetch_key(self, resident_id: str, purpose: str) -> bytes | None:
        try:
            response = await self._client.get(
                f"/internal/v1/keys/{resident_id}/{Purpose(purpose).value}",
                headers=caller_headers(self.settings),
            )
        except httpx.HTTPError as exc:
            raise KeyUnavailable(type(exc).__name__) from exc
        if response.status_code in (404, 410):
            return None  # erased (or never had a key): nothing of theirs can be opened
        if response.status_code != 200:
            raise KeyUnavailable(f"intake answered {response.status_code}")
        key = response.json()["key"]
        base64.urlsafe_b64decode(key)  # a malformed answer fails here, not in Fernet later
        return str(key).encode()

    async def _fetch_keys(self, resident_ids: list[str], purpose: str) -> dict[str, bytes]:
        """Several residents' keys of one purpose, ``KEYS_PER_REQUEST`` to a request; the
        residents without a key (erased, unknown) are left out of the answer."""
        found: dict[str, bytes] = {}
        for start in range(0, len(resident_ids), KEYS_PER_REQUEST):
            try:
                response = await self._client.post(
                    f"/internal/v1/keys/{Purpose(purpose).value}",
                    json={"resident_ids": resident_ids[start : start + KEYS_PER_REQUEST]},
                    headers=caller_headers(self.settings),
                )
            except httpx.HTTPError as exc:
                raise KeyUnavailable(type(exc).__name__) from exc
            if response.status_code != 200:
                raise KeyUnavailable(f"intake answered {response.status_code}")
            for resident_id, key in response.json()["keys"].items():
                base64.urlsafe_b64decode(key)  # a malformed answer fails here
                found[str(resident_id)] = str(key).encode()
        return found

    async def start(self) -> None:
        """Nothing to start: the client connects on first use."""

    async def stop(self) -> None:
        await self._client.aclose()


Gather = Callable[[AsyncSession, str, list[str]], Awaitable[dict[str, Any]]]
#: What was gathered, with the resident's sealed values opened (``Sealer``, keys from intake).
Reveal = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def disclosure_router(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    gather: Gather,
    reveal: Reveal | None = None,
) -> APIRouter:
    """``GET /internal/v1/disclosure?resident_id=&case_id=...``: what this service holds on a
    resident's cases, for intake alone (it audits and answers the disclosure request).

    ``gather`` reads the rows in a session that is closed before ``reveal`` opens what is
    sealed in them: the resident's key is asked of intake with no transaction open."""
    router = APIRouter()
    intake_only = require_service(settings, "intake")

    @router.get("/internal/v1/disclosure", include_in_schema=False)
    async def disclosure(
        resident_id: Annotated[str, Query(max_length=64)],
        case_id: Annotated[list[str] | None, Query()] = None,
        caller: str = Depends(intake_only),  # a local: string annotations cannot see it
    ) -> Any:
        async with sessions() as session:
            held = await gather(session, resident_id, list(case_id or [])[:1000])
        if reveal is not None:
            held = await reveal(held)
        return JSONResponse(json.loads(json.dumps(held, ensure_ascii=False, default=str)))

    return router


def audit_router(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], table: Table
) -> APIRouter:
    """``GET /internal/v1/audit?case_id=...&username=&from=&to=&action=&limit=``: this
    service's own audit entries, for intake alone, which answers the auditor (ADR 13). The
    entries are chained first, as for any search of the audit."""
    router = APIRouter()
    intake_only = require_service(settings, "intake")

    @router.get("/internal/v1/audit", include_in_schema=False)
    async def search(
        case_id: Annotated[list[str] | None, Query()] = None,
        username: Annotated[str | None, Query(max_length=64)] = None,
        from_: Annotated[datetime | None, Query(alias="from")] = None,
        to: datetime | None = None,
        action: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 500,
        caller: str = Depends(intake_only),  # a local: string annotations cannot see it
    ) -> Any:
        await audit.chain_all(sessions, table)
        async with sessions() as session:
            rows = await audit.search(
                session, table, case_ids=list(case_id or [])[:1000], username=username,
                since=from_, until=to, action=action, limit=limit,
            )  # fmt: skip
        return JSONResponse(json.loads(json.dumps(rows, ensure_ascii=False, default=str)))

    return router
