"""Notify's HTTP API: deliveries and their attempts, failures, letters, invitation import.

Every route needs a staff token (shared auth). Delivery views carry statuses, channels,
templates and error codes: never an address or a message.
"""

# No "from __future__ import annotations": FastAPI reads the route-local Annotated aliases.
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
)
from pydantic import BaseModel, Field

from tsunagu.notify.adapters.orm import (
    PERMANENT_FAILURE,
    SCHEDULED,
    SENDING,
    SENT,
    SUPPRESSED,
    TRANSIENT_FAILURE,
)
from tsunagu.notify.service_layer import views
from tsunagu.notify.service_layer.invitations import EventDetails, ImportSummary, import_invitations
from tsunagu.notify.service_layer.scheduling import Notify
from tsunagu.shared.auth import Authenticator, Principal, check_csrf
from tsunagu.shared.contracts.codes import StaffRole
from tsunagu.shared.crypto import ContactSealer
from tsunagu.shared.text import NO_NUL

STATUSES = (SCHEDULED, SENDING, SENT, TRANSIENT_FAILURE, PERMANENT_FAILURE, SUPPRESSED)
#: Roles that handle residents' own details across every case: letters, call lists, invitation
#: lists. Programme members see only cases referred to their programme (domain.md, "People and
#: roles"), so they are not among them; admins always pass.
RESIDENT_WORK = (StaffRole.INTAKE, StaffRole.COORDINATOR)
#: Roles that follow deliveries (codes and statuses, no contact details). Not the food desk: it
#: sees only what a handout needs.
DELIVERY_READERS = (StaffRole.INTAKE, StaffRole.PROGRAMME, StaffRole.COORDINATOR, StaffRole.AUDITOR)
#: Roles that may send a failed delivery again.
DELIVERY_RETRIERS = (StaffRole.INTAKE, StaffRole.PROGRAMME, StaffRole.COORDINATOR)
_TIME = r"^([01]\d|2[0-3]):[0-5]\d$"

Responses = dict[int | str, dict[str, Any]]
UNAUTHORISED: Responses = {401: {"description": "Not signed in"}}
FORBIDDEN: Responses = {**UNAUTHORISED, 403: {"description": "Not a role that may do this"}}


class AttemptView(BaseModel):
    attempt: int
    channel: str
    status: str
    error: str | None = Field(description="An error code such as smtp_550 5.1.1 or http_503.")
    at: datetime


class DeliveryView(BaseModel):
    """One message owed to one recipient, or the recorded decision not to send it."""

    delivery_id: str
    case_id: str | None
    recipient_kind: str
    recipient_ref: str = Field(description="Programme code, staff username, case id, loan ref.")
    template: str
    channels: list[str] = Field(description="The channels to try, in order.")
    language: str
    urgent: bool
    status: str = Field(description=" / ".join(STATUSES))
    reason: str | None = Field(description="Why it is suppressed, e.g. do_not_contact.")
    attempts: int
    last_channel: str | None
    last_error: str | None
    not_before: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptView]


class RowErrorView(BaseModel):
    line: int = Field(description="Line in the file; the header is line 1.")
    field: str = Field(description="The column, or empty for the whole row.")
    message: str


class ImportView(BaseModel):
    import_id: str
    event_id: str
    scheduled: int
    already_scheduled: int
    opted_out: int
    errors: list[RowErrorView]


class LetterView(BaseModel):
    letter_id: str
    delivery_id: str
    case_id: str | None
    template: str
    language: str
    created_at: datetime
    posted_at: datetime | None


class DevMailView(BaseModel):
    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    message_id: str | None
    text: str


class DevSmsView(BaseModel):
    id: int
    received_at: datetime
    to_number: str
    body: str
    idempotency_key: str


def only_programmes(principal: Principal) -> frozenset[str] | None:
    """``None`` for staff who follow every delivery; a programme member's programmes otherwise
    (they see deliveries about the cases their programme holds, and nothing else)."""
    if principal.may(StaffRole.INTAKE, StaffRole.COORDINATOR, StaffRole.AUDITOR):
        return None
    return frozenset(principal.programmes)


def delivery_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "delivery_id": row["id"]}


def import_view(summary: ImportSummary) -> dict[str, Any]:
    return {
        "import_id": summary.import_id,
        "event_id": summary.event_id,
        "scheduled": summary.scheduled,
        "already_scheduled": summary.already_scheduled,
        "opted_out": summary.opted_out,
        "errors": [
            {"line": e.line, "field": e.field, "message": e.message_ja} for e in summary.errors
        ],
    }


async def run_import(
    notify: Notify,
    sessions: Any,
    sealer: ContactSealer,
    upload: UploadFile,
    event: EventDetails,
    principal: Principal,
) -> ImportSummary:
    raw = await upload.read()
    async with sessions() as session, session.begin():
        return await import_invitations(notify, session, sealer, raw, event, principal.username)


def create_router(runtime: Any, authenticator: Authenticator) -> APIRouter:
    """``runtime``: the ``NotifyRuntime`` (notify, sessions, sealer)."""
    router = APIRouter(prefix="/api/v1")
    notify: Notify = runtime.notify
    sessions = runtime.sessions
    tables = notify.tables
    Readers = Annotated[Principal, Depends(authenticator.require(*DELIVERY_READERS))]
    Retriers = Annotated[Principal, Depends(authenticator.require(*DELIVERY_RETRIERS))]
    ResidentWork = Annotated[Principal, Depends(authenticator.require(*RESIDENT_WORK))]

    @router.get(
        "/deliveries", response_model=list[DeliveryView], tags=["deliveries"], responses=FORBIDDEN
    )
    async def list_deliveries(
        staff: Readers,
        case_id: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
        status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[dict[str, Any]]:
        """Deliveries (newest first) with every attempt: status, channel, template, errors."""
        async with sessions() as session:
            rows = await views.deliveries(
                session,
                tables,
                case_id=case_id,
                statuses=(status,) if status else (),
                limit=limit,
                only_programmes=only_programmes(staff),
            )
        return [delivery_view(r) for r in rows]

    @router.get(
        "/deliveries/failures",
        response_model=list[DeliveryView],
        tags=["deliveries"],
        responses=FORBIDDEN,
    )
    async def list_failures(staff: Readers) -> list[dict[str, Any]]:
        """Deliveries that failed for good on every channel: for staff to act on."""
        async with sessions() as session:
            rows = await views.failures(session, tables, only_programmes=only_programmes(staff))
            return [delivery_view(r) for r in rows]

    @router.post(
        "/deliveries/{delivery_id}/retry",
        status_code=202,
        tags=["deliveries"],
        responses={**FORBIDDEN, 404: {"description": "No permanently failed delivery of this id"}},
    )
    async def retry_delivery(
        request: Request,
        delivery_id: Annotated[str, Path(max_length=64, pattern=NO_NUL)],
        staff: Retriers,
    ) -> dict[str, str]:
        """Schedule a permanently failed delivery again (after fixing an address or setting)."""
        await check_csrf(request, staff)
        async with sessions() as session, session.begin():
            if not await views.retry(
                session, tables, delivery_id, notify.now(), only_programmes=only_programmes(staff)
            ):
                raise HTTPException(404, "送信失敗の配信が見つかりません")
        return {"delivery_id": delivery_id, "status": SCHEDULED}

    @router.get("/letters", response_model=list[LetterView], tags=["letters"], responses=FORBIDDEN)
    async def list_letters(_: ResidentWork, include_posted: bool = False) -> list[dict[str, Any]]:
        """The letter queue; each letter's print-ready HTML is at ``/letters/{letter_id}``."""
        async with sessions() as session:
            rows = await views.letters(session, tables, include_posted=include_posted)
        return [{**r, "letter_id": r["id"]} for r in rows]

    @router.post(
        "/invitations/import",
        response_model=ImportView,
        tags=["invitations"],
        responses={
            **FORBIDDEN,
            400: {"description": "The form cannot be parsed"},
            413: {"description": "The file is too large"},
        },
    )
    async def import_list(
        request: Request,
        staff: ResidentWork,
        file: Annotated[UploadFile, File(description="The borrowers' CSV (UTF-8 or Shift_JIS).")],
        event_id: Annotated[str, Form(min_length=1, max_length=64, pattern=NO_NUL)],
        event_date: Annotated[date, Form()],
        opens_at: Annotated[str, Form(pattern=_TIME)],
        closes_at: Annotated[str, Form(pattern=_TIME)],
        venue_name: Annotated[str, Form(min_length=1, max_length=200, pattern=NO_NUL)],
        venue_address: Annotated[str, Form(min_length=1, max_length=300, pattern=NO_NUL)],
    ) -> dict[str, Any]:
        """Invite every valid row by its channel; malformed rows come back by line and column,
        opt-outs are recorded and never invited."""
        await check_csrf(request, staff)
        event = EventDetails(event_id, event_date, opens_at, closes_at, venue_name, venue_address)
        summary = await run_import(notify, sessions, runtime.invitation_sealer, file, event, staff)
        return import_view(summary)

    return router


def create_dev_router(runtime: Any, authenticator: Authenticator) -> APIRouter:
    """``GET /api/v1/dev/mail`` and ``/sms``: what the dev mail catcher and SMS sink received
    (dev and test only)."""
    router = APIRouter(prefix="/api/v1/dev")
    Staff = Annotated[Principal, Depends(authenticator.require())]

    @router.get("/mail", response_model=list[DevMailView], tags=["dev"], responses=UNAUTHORISED)
    async def dev_mail(
        _: Staff, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> list[dict[str, Any]]:
        async with runtime.sessions() as session:
            return await views.dev_mail(session, runtime.notify.tables, limit=limit)

    @router.get("/sms", response_model=list[DevSmsView], tags=["dev"], responses=UNAUTHORISED)
    async def dev_sms(
        _: Staff, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> list[dict[str, Any]]:
        async with runtime.sessions() as session:
            return await views.dev_sms(session, runtime.notify.tables, limit=limit)

    return router
