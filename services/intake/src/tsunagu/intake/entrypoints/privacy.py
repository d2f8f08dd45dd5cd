"""Residents' rights and keys: erasure and disclosure (staff API), the key endpoint (services).

- ``POST /api/v1/residents/{resident_id}/erasure`` (admin or privacy officer) with a reason;
- ``GET /api/v1/residents/{resident_id}/disclosure`` (admin or privacy officer): what every
  service holds, as a printable Japanese page or, with ``?format=json``, a JSON file;
- ``GET /internal/v1/keys/{resident_id}/{purpose}``: one purpose key of a resident, for a
  service allowed that purpose, authenticated as that service (ADR 12);
- ``POST /internal/v1/keys/{purpose}`` with ``{"resident_ids": [...]}``: several residents'
  keys of that purpose at once (notify's sender asks for a claimed batch's residents together).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from tsunagu.intake.entrypoints.web import Intake, http_errors, staff
from tsunagu.intake.service_layer import disclosure, erasure
from tsunagu.intake.service_layer.keys import ALLOWED_PURPOSES
from tsunagu.shared.auth import Principal, check_csrf
from tsunagu.shared.contracts.codes import StaffRole
from tsunagu.shared.crypto import Purpose
from tsunagu.shared.internal import require_service
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

UUID_PATTERN = r"^[0-9a-fA-F-]{36}$"
ResidentId = Annotated[str, Path(pattern=UUID_PATTERN, description="The resident's uuid")]
PRIVACY_ROLES = {StaffRole.ADMIN.value, StaffRole.PRIVACY_OFFICER.value}


class KeysAsked(BaseModel):
    """The residents whose keys a service asks for at once (at most 500)."""

    resident_ids: list[Annotated[str, Field(max_length=64)]] = Field(max_length=500)


def privacy_officer(principal: Annotated[Principal, Depends(staff)]) -> Principal:
    if not principal.roles & PRIVACY_ROLES:
        raise HTTPException(403, "この操作の権限がありません")
    return principal


Officer = Annotated[Principal, Depends(privacy_officer)]


class ErasureRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why (no personal data)")


class ErasureResult(BaseModel):
    resident_id: str
    cases: int
    erased_at: str
    already_erased: bool


def router(app: Intake) -> APIRouter:
    r = APIRouter()
    service = require_service(app.settings, *ALLOWED_PURPOSES)

    @r.post(
        "/api/v1/residents/{resident_id}/erasure",
        response_model=ErasureResult,
        tags=["residents"],
        responses={
            400: {"description": "The body cannot be parsed"},
            401: {"description": "Not signed in"},
            403: {"description": "Admins and privacy officers only"},
            404: {"description": "No such resident"},
        },
    )
    async def erase(
        request: Request,
        resident_id: ResidentId,
        who: Officer,
        body: Annotated[ErasureRequest, Body()],
    ) -> ErasureResult:
        """Erase a resident everywhere: their key is destroyed and every service forgets them."""
        await check_csrf(request, who)
        with http_errors():
            async with app.transaction() as session:
                done = await erasure.erase_resident(
                    session,
                    app.ports,
                    resident_id,
                    erased_by=who.username,
                    basis="request",
                    reason=body.reason,
                )
        log.info("resident_erased", cases=done.cases, already=done.already)
        return ErasureResult(
            resident_id=resident_id,
            cases=done.cases,
            erased_at=done.erased_at.isoformat(),
            already_erased=done.already,
        )

    @r.get(
        "/api/v1/residents/{resident_id}/disclosure",
        tags=["residents"],
        responses={
            200: {"content": {"text/html": {}, "application/json": {}}},
            401: {"description": "Not signed in"},
            403: {"description": "Admins and privacy officers only"},
            404: {"description": "No such resident, or already erased"},
            503: {"description": "A service could not be asked; try again"},
        },
    )
    async def disclose(
        request: Request,
        resident_id: ResidentId,
        who: Officer,
        format: Annotated[str, Query(pattern="^(html|json)$")] = "html",
    ) -> Any:
        """Everything held on the resident in every service (開示請求): a printable page, or a
        JSON file with ``?format=json``."""
        with http_errors():
            report = await disclosure.gather(
                app.runtime.sessions, app.settings, resident_id, who.username, format
            )
        if format == "json":
            return JSONResponse(
                json.loads(json.dumps(report, ensure_ascii=False, default=str)),
                headers={
                    "content-disposition": f'attachment; filename="disclosure-{resident_id}.json"'
                },
            )
        return HTMLResponse(
            app.templates.get_template("disclosure.html").render(report=report, request=request)
        )

    @r.get("/internal/v1/keys/{resident_id}/{purpose}", include_in_schema=False)
    async def key(
        resident_id: Annotated[str, Path(max_length=64)],
        purpose: Purpose,
        caller: str = Depends(service),  # a local: string annotations cannot see it
    ) -> dict[str, str]:
        if purpose not in ALLOWED_PURPOSES.get(caller, frozenset()):
            raise HTTPException(403, "purpose not allowed for this service")
        async with app.transaction() as session:
            found = await app.ports.keys.purpose_key(session, resident_id, purpose)
        if found is None:
            raise HTTPException(410, "no key: the resident was erased or is unknown")
        return {"key": found.decode()}

    @r.post("/internal/v1/keys/{purpose}", include_in_schema=False)
    async def keys(
        purpose: Purpose,
        asked: KeysAsked,
        caller: str = Depends(service),  # a local: string annotations cannot see it
    ) -> dict[str, dict[str, str]]:
        """Several residents' keys of one purpose (a sender's batch): ``{"keys": {id: key}}``,
        the residents without a key (erased, unknown) left out."""
        if purpose not in ALLOWED_PURPOSES.get(caller, frozenset()):
            raise HTTPException(403, "purpose not allowed for this service")
        async with app.transaction() as session:
            found = await app.ports.keys.purpose_keys(session, asked.resident_ids, purpose)
        return {"keys": {resident_id: key.decode() for resident_id, key in found.items()}}

    return r
