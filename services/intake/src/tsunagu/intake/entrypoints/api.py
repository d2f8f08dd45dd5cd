"""The JSON API (``/api/v1``): tokens, events, cases, consent, referral responses, duplicates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from tsunagu.intake.domain import access
from tsunagu.intake.domain.case_input import EXAMPLE_BODY, CaseInput
from tsunagu.intake.domain.normalize import BirthDateError, parse_birth_date
from tsunagu.intake.entrypoints import schemas
from tsunagu.intake.entrypoints.web import (
    client_address,
    find_unstorable,
    http_errors,
    intake,
    refuse_unstorable,
    set_session_cookie,
    staff,
    staff_pending,
    who,
)
from tsunagu.intake.service_layer import audit, cases, referrals, views
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import Invalid, LoginLocked, retry_after
from tsunagu.shared.auth import COOKIE_NAME, SERVICES, Principal, check_csrf
from tsunagu.shared.contracts.codes import Programme, StaffRole
from tsunagu.shared.contracts.intake import SupportMeeting
from tsunagu.shared.logs import get_logger
from tsunagu.shared.text import NO_NUL

log = get_logger(__name__)

router = APIRouter(prefix="/api/v1")

Staff = Annotated[Principal, Depends(staff)]
CaseId = Annotated[str, Path(pattern=schemas.UUID_PATTERN, description="The case's uuid")]

Responses = dict[int | str, dict[str, Any]]
_UNAUTHORISED: Responses = {401: {"description": "Not signed in"}}
#: A body that cannot be read at all (not UTF-8, not a form) is refused before it is validated.
_MALFORMED: Responses = {400: {"description": "The body cannot be parsed"}}
_CASE_ERRORS: Responses = {
    **_UNAUTHORISED,
    404: {"description": "No such case, or not yours to see"},
}


@router.post(
    "/auth/token",
    response_model=schemas.Token,
    tags=["auth"],
    responses={
        **_MALFORMED,
        401: {"description": "Wrong username, password or second-factor code"},
        429: {"description": "Too many failed logins from here or for this username; see "
              "Retry-After"},
    },
)  # fmt: skip
async def token(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
    otp: Annotated[
        str | None, Form(max_length=16, description="The TOTP code, for staff with a second factor")
    ] = None,
    audience: Annotated[
        str | None,
        Form(
            max_length=200,
            description="Services the token is for, space-separated (default: all four)",
        ),
    ] = None,
) -> schemas.Token:
    """Exchange a staff username and password for a Bearer token (OAuth2 password style).

    The token names its audience and is never re-issued: sign in again when it expires.
    """
    app = intake(request)
    wanted = SERVICES if not audience else tuple(audience.split())
    if not set(wanted) <= set(SERVICES):
        with http_errors("body"):
            raise Invalid("audience", "audience は intake routing notify food_distribution から")
    principal = None
    if find_unstorable([username, password, otp or ""]) is None:
        try:
            async with app.transaction() as session:
                principal = await staff_service.authenticate(
                    session,
                    username,
                    password,
                    otp=otp,
                    address=client_address(request),
                    audit_as="auth.token",
                    master=app.ports.keys.master,
                )
        except LoginLocked as locked:
            log.info("token_refused_locked")
            raise HTTPException(
                429,
                "ログインの失敗が続いたため、しばらくお待ちください "
                "(too many failed logins; try again later)",
                headers={"Retry-After": str(retry_after(locked))},
            ) from None
    if principal is None:
        log.info("token_refused")
        raise HTTPException(
            401,
            "ユーザー名・パスワード・確認コードのいずれかが違います "
            "(wrong username, password or code)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return schemas.Token(
        access_token=app.signer.issue(
            principal, app.settings.session_idle_seconds, audience=wanted
        ),
        expires_in=app.settings.session_idle_seconds,
        pending=principal.pending or None,
    )


@router.post(
    "/auth/logout",
    status_code=204,
    tags=["auth"],
    responses=_UNAUTHORISED,
)
async def logout(
    request: Request, principal: Annotated[Principal, Depends(staff_pending)]
) -> Response:
    """End this sign-in: its tokens are refused by every service within seconds."""
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
    response = Response(status_code=204)
    if principal.via_cookie:
        response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.post(
    "/auth/password",
    response_model=schemas.Token,
    tags=["auth"],
    responses={**_UNAUTHORISED, **_MALFORMED},
)
async def change_password(
    request: Request,
    principal: Annotated[Principal, Depends(staff_pending)],
    body: schemas.PasswordChangeIn,
) -> JSONResponse:
    """Change one's own password. Every other sign-in ends; this one continues with a new
    token (and cookie, for a browser)."""
    await check_csrf(request, principal)
    refuse_unstorable(body.model_dump(), "body")
    app = intake(request)
    with http_errors("body"):
        async with app.transaction() as session:
            revoked = await staff_service.change_password(
                session,
                app.ports.outbox,
                principal.username,
                body.current_password,
                body.new_password,
                token_ttl_seconds=app.settings.token_ttl_seconds,
            )
    app.runtime.revocations.remember(revoked)
    fresh = replace(
        principal,
        version=revoked.version or principal.version,
        session_id="",
        pending="" if principal.pending == staff_service.PENDING_PASSWORD else principal.pending,
    )
    issued = app.issue(fresh, cookie=principal.via_cookie)
    out = schemas.Token(
        access_token=issued,
        expires_in=app.settings.session_idle_seconds,
        pending=fresh.pending or None,
    )
    response = JSONResponse(out.model_dump(mode="json"))
    if principal.via_cookie:
        set_session_cookie(response, app.settings, issued)
    return response


# --- staff administration (admins) ---------------------------------------------------------------


def _admin_only(principal: Principal) -> None:
    if not access.can_admin(who(principal)):
        raise HTTPException(403, "管理者のみ (admins only)")


@router.get(
    "/staff",
    response_model=list[schemas.StaffOut],
    tags=["staff"],
    responses={**_UNAUTHORISED, 403: {"description": "Admins only"}},
)
async def list_staff(request: Request, principal: Staff) -> list[schemas.StaffOut]:
    """Every staff account (never a password hash or a second-factor secret)."""
    _admin_only(principal)
    async with intake(request).transaction() as session:
        people = await staff_service.list_staff(session)
        await audit.record(session, principal.username, "staff.list")
    return [schemas.StaffOut(**p) for p in people]


@router.post(
    "/staff",
    status_code=201,
    response_model=schemas.StaffOut,
    tags=["staff"],
    responses={
        **_UNAUTHORISED,
        **_MALFORMED,
        403: {"description": "Admins only"},
        409: {"description": "The username is taken"},
    },
)
async def create_staff(
    request: Request, principal: Staff, body: schemas.StaffCreateIn
) -> schemas.StaffOut:
    """A new staff account; the password must be changed at its first sign-in."""
    await check_csrf(request, principal)
    _admin_only(principal)
    refuse_unstorable(body.model_dump(mode="json"), "body")
    app = intake(request)
    with http_errors("body"):
        async with app.transaction() as session:
            await staff_service.save_staff(
                session,
                principal.username,
                staff_service.StaffInput(
                    username=body.username,
                    display_name=body.display_name,
                    roles=frozenset(body.roles),
                    programmes=frozenset(body.programmes),
                    venue_id=body.venue_id,
                    active=body.active,
                    password=body.password,
                ),
                new=True,
                outbox=app.ports.outbox,
                token_ttl_seconds=app.settings.token_ttl_seconds,
            )
            person = await staff_service.get_staff(session, body.username)
    return schemas.StaffOut(**person)


@router.patch(
    "/staff/{username}",
    response_model=schemas.StaffOut,
    tags=["staff"],
    responses={
        **_UNAUTHORISED,
        **_MALFORMED,
        403: {"description": "Admins only"},
        404: {"description": "No such account"},
    },
)
async def update_staff(
    request: Request,
    principal: Staff,
    username: Annotated[str, Path(pattern=schemas.USERNAME_PATTERN)],
    body: schemas.StaffPatchIn,
) -> schemas.StaffOut:
    """Change an account. Deactivating it, or changing its roles, programmes or password, ends
    every sign-in it has, in every service, within seconds."""
    await check_csrf(request, principal)
    _admin_only(principal)
    refuse_unstorable(body.model_dump(mode="json"), "body")
    app = intake(request)
    given = body.model_fields_set
    with http_errors("body"):
        async with app.transaction() as session:
            current = await staff_service.get_staff(session, username)
            revoked = await staff_service.save_staff(
                session,
                principal.username,
                staff_service.StaffInput(
                    username=username,
                    display_name=body.display_name or current["display_name"],
                    roles=frozenset(StaffRole(r) for r in (body.roles or current["roles"])),
                    programmes=frozenset(
                        Programme(p)
                        for p in (
                            body.programmes
                            if "programmes" in given and body.programmes is not None
                            else current["programmes"]
                        )
                    ),
                    venue_id=body.venue_id if "venue_id" in given else current["venue_id"],
                    active=current["active"] if body.active is None else body.active,
                    password=body.password,
                ),
                new=False,
                outbox=app.ports.outbox,
                token_ttl_seconds=app.settings.token_ttl_seconds,
            )
            person = await staff_service.get_staff(session, username)
    if revoked is not None:
        app.runtime.revocations.remember(revoked)
    return schemas.StaffOut(**person)


@router.delete(
    "/staff/{username}/totp",
    status_code=204,
    tags=["staff"],
    responses={
        **_UNAUTHORISED,
        403: {"description": "Admins only"},
        404: {"description": "No such account"},
    },
)
async def remove_totp(
    request: Request,
    principal: Staff,
    username: Annotated[str, Path(pattern=schemas.USERNAME_PATTERN)],
) -> None:
    """Take an account's second factor off (a lost or replaced phone): every sign-in it has
    ends in every service within seconds, and its next sign-in sets one up again (an admin
    must). Audited as ``staff.totp_removed``; an account without one is left as it is."""
    await check_csrf(request, principal)
    _admin_only(principal)
    app = intake(request)
    with http_errors("body"):
        async with app.transaction() as session:
            revoked = await staff_service.remove_totp(
                session,
                principal.username,
                username,
                outbox=app.ports.outbox,
                token_ttl_seconds=app.settings.token_ttl_seconds,
            )
    if revoked is not None:
        app.runtime.revocations.remember(revoked)


@router.get(
    "/events", response_model=list[schemas.EventOut], tags=["events"], responses=_UNAUTHORISED
)
async def events(
    request: Request,
    principal: Staff,
    from_date: date | None = None,
    to_date: date | None = None,
    venue_id: Annotated[str | None, Query(pattern=schemas.ID_PATTERN)] = None,
) -> list[schemas.EventOut]:
    """Consultation events (any staff member), by date and venue."""
    async with intake(request).transaction() as session:
        rows = await staff_service.list_events(
            session, from_date=from_date, to_date=to_date, venue_id=venue_id
        )
    return [_event_out(row) for row in rows]


def _event_out(row: dict[str, Any]) -> schemas.EventOut:
    return schemas.EventOut(
        event_id=row["event_id"],
        venue_id=row["venue_id"],
        venue_name=row["venue_name"],
        date=row["event_date"],
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        programmes=row["programmes"],
        late_intake_reason=row.get("late_intake_reason"),
    )


EventId = Annotated[str, Path(pattern=schemas.ID_PATTERN, description="The event's id")]
_LATE_INTAKE_ERRORS: Responses = {
    **_UNAUTHORISED,
    403: {"description": "Admins only"},
    404: {"description": "No such event"},
}


@router.put(
    "/events/{event_id}/late-intake",
    response_model=schemas.EventOut,
    tags=["events"],
    responses={**_LATE_INTAKE_ERRORS, **_MALFORMED},
)
async def allow_late_intake(
    request: Request, principal: Staff, event_id: EventId, body: schemas.LateIntakeIn
) -> schemas.EventOut:
    """An admin lets intake staff take residents in at this event on other days than its own
    (cases are otherwise taken in only at today's events), saying why; audited."""
    await check_csrf(request, principal)
    _admin_only(principal)
    with http_errors("body"):
        async with intake(request).transaction() as session:
            row = await staff_service.set_late_intake(
                session, principal.username, event_id, body.reason
            )
    return _event_out(row)


@router.delete(
    "/events/{event_id}/late-intake",
    response_model=schemas.EventOut,
    tags=["events"],
    responses=_LATE_INTAKE_ERRORS,
)
async def end_late_intake(
    request: Request, principal: Staff, event_id: EventId
) -> schemas.EventOut:
    """Take the leave back: the event takes residents in on its own day only again."""
    await check_csrf(request, principal)
    _admin_only(principal)
    with http_errors("body"):
        async with intake(request).transaction() as session:
            row = await staff_service.set_late_intake(session, principal.username, event_id, None)
    return _event_out(row)


@router.post(
    "/cases",
    status_code=201,
    response_model=schemas.CaseCreatedOut,
    tags=["cases"],
    responses={
        **_UNAUTHORISED,
        **_MALFORMED,
        403: {"description": "Only intake staff take residents in"},
        409: {"description": "Idempotency-Key already used with a different body"},
        413: {"description": "Body too large"},
    },
)
async def create_case(
    request: Request,
    principal: Staff,
    body: Annotated[CaseInput, Body(openapi_examples={"article": {"value": EXAMPLE_BODY}})],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Retries with the same key and body return the same case",
        ),
    ] = None,
    resident_id: Annotated[
        str | None,
        Query(
            pattern=schemas.UUID_PATTERN,
            description="An existing resident (from /residents/matches) instead of a new one",
        ),
    ] = None,
    taken_offline_at: Annotated[
        schemas.TakenAt | None,
        Header(alias=schemas.TAKEN_AT_HEADER, description=schemas.TAKEN_AT_DESCRIPTION),
    ] = None,
) -> JSONResponse:
    """Take a resident in: the case, the resident and ``case_created`` in one transaction.

    Only at an event held today in Tokyo (else 422 ``event_not_today`` on ``event_id``), with
    two exceptions: an admin gave the event leave for late intake, or the case was taken
    offline on the event's day and is sent within the window (``X-Tsunagu-Taken-At``)."""
    await check_csrf(request, principal)
    if not access.can_take_in(who(principal)):
        raise HTTPException(403, "受付担当者のみ登録できます (intake staff only)")
    refuse_unstorable(body.model_dump(mode="json"), "body")
    app = intake(request)
    with http_errors("body"):
        async with app.transaction() as session:
            created = await cases.create_case(
                session,
                app.ports,
                body,
                taken_by=principal.username,
                today=app.today(),
                idempotency_key=idempotency_key,
                resident_id=resident_id,
                taken_offline_at=taken_offline_at,
            )
    headers = {"Location": f"/api/v1/cases/{created.case_id}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(
        {"case_id": created.case_id, "case_number": created.case_number},
        status_code=201,
        headers=headers,
    )


@router.get(
    "/cases",
    response_model=schemas.CaseList,
    response_model_exclude_unset=True,
    tags=["cases"],
    responses=_UNAUTHORISED,
)
async def list_cases(
    request: Request,
    principal: Staff,
    event_id: Annotated[str | None, Query(pattern=schemas.ID_PATTERN)] = None,
    status: schemas.BoardStatus | None = None,
    programme: Programme | None = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description=(
                "Search: reception number (or its last 1-4 digits), phone (all or its end), "
                "birth date (1948-05-01 or 昭和23年5月1日), furigana (one kana off matches), name"
            ),
        ),
    ] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> schemas.CaseList:
    """Cases the caller may see, newest first; filter by event, board status or programme,
    and search with ``q`` (audited; programme members find only their own cases, the food
    desk only today's eligible households)."""
    if q is not None:
        refuse_unstorable(q, "query")
    app = intake(request)
    async with app.transaction() as session:
        found = await views.list_cases(
            session,
            who(principal),
            event_id=event_id,
            board_status=status,
            programme=programme,
            q=q,
            today=app.today(),
            page=page,
            page_size=page_size,
        )
    return schemas.CaseList(
        items=[schemas.CaseSummary(**item) for item in found["items"]],
        total=found["total"],
        page=found["page"],
        page_size=found["page_size"],
    )


@router.get(
    "/cases/{case_id}",
    response_model=schemas.CaseOut,
    response_model_exclude_unset=True,
    tags=["cases"],
    responses=_CASE_ERRORS,
)
async def get_case(request: Request, principal: Staff, case_id: CaseId) -> schemas.CaseOut:
    """One case with its referrals and food eligibility, as routing and food report back."""
    with http_errors("path"):
        app = intake(request)
        async with app.transaction() as session:
            view = await views.case_view(
                session, who(principal), case_id, today=app.today(), keys=app.ports.keys
            )
    if "referrals" in view:
        view["referrals"] = [schemas.ReferralOut(**r) for r in view["referrals"]]
    return schemas.CaseOut(**view)


@router.post(
    "/cases/{case_id}/consent",
    response_model=schemas.ConsentOut,
    tags=["cases"],
    responses={
        **_CASE_ERRORS,
        **_MALFORMED,
        403: {"description": "May see but not change consent (intake and coordinators only)"},
    },
)
async def change_consent(
    request: Request, principal: Staff, case_id: CaseId, body: schemas.ConsentIn
) -> schemas.ConsentOut:
    """Record that the resident gave or withdrew consent; ``consent_changed`` tells the others."""
    await check_csrf(request, principal)
    app = intake(request)
    with http_errors("body"):
        async with app.transaction() as session:
            result = await cases.change_consent(
                session,
                app.ports,
                who(principal),
                case_id,
                give=body.action == "give",
                basis=body.basis,
                given_by=body.given_by,
                given_how=body.given_how,
                meeting=None
                if body.meeting is None
                else SupportMeeting(**body.meeting.model_dump()),
                confirmation=body.confirmation,
            )
    return schemas.ConsentOut(**result)


@router.post(
    "/cases/{case_id}/referrals",
    status_code=202,
    response_model=schemas.ReferralRequestOut,
    tags=["cases"],
    responses={
        **_CASE_ERRORS,
        **_MALFORMED,
        403: {"description": "Intake and coordinators only"},
        409: {"description": "The case already has a referral to that programme"},
    },
)
async def request_referral(
    request: Request, principal: Staff, case_id: CaseId, body: schemas.ReferralRequestIn
) -> schemas.ReferralRequestOut:
    """Refer the case to one more programme (routing's suggestion after a decline, or any
    other): ``referral_requested`` asks routing, which makes the referral (202)."""
    await check_csrf(request, principal)
    app = intake(request)
    with http_errors("body"):
        async with app.transaction() as session:
            await referrals.request_referral(
                session,
                app.ports.outbox,
                who(principal),
                case_id,
                body.programme,
                after_referral_id=body.after_referral_id,
            )
    return schemas.ReferralRequestOut(case_id=case_id, programme=body.programme.value)


@router.post(
    "/cases/{case_id}/safe-contact",
    response_model=schemas.SafeContactOut,
    tags=["cases"],
    responses={
        **_CASE_ERRORS,
        **_MALFORMED,
        403: {"description": "Intake and coordinators only"},
        422: {"description": "No safe contact chosen for a case at risk, or a letter"},
    },
)
async def safe_contact(
    request: Request, principal: Staff, case_id: CaseId, body: schemas.SafeContactIn
) -> schemas.SafeContactOut:
    """Mark the case sensitive and record its one safe channel; notify hears it at once and
    from then on uses that channel alone (or none)."""
    await check_csrf(request, principal)
    app = intake(request)
    with http_errors("body"):
        async with app.transaction() as session:
            result = await cases.set_safe_contact(
                session,
                app.ports,
                who(principal),
                case_id,
                sensitive=body.sensitive,
                safe_contact=body.safe_contact,
            )
    return schemas.SafeContactOut(**result)


@router.patch(
    "/cases/{case_id}",
    response_model=schemas.FactsOut,
    tags=["cases"],
    responses={**_CASE_ERRORS, **_MALFORMED, 403: {"description": "Intake and coordinators only"}},
)
async def update_facts(
    request: Request, principal: Staff, case_id: CaseId, body: schemas.FactsIn
) -> schemas.FactsOut:
    """Correct the concerns and urgent flags; ``case_updated`` tells routing to look again."""
    await check_csrf(request, principal)
    app = intake(request)
    with http_errors("body"):
        async with app.transaction() as session:
            changed = await cases.update_facts(
                session,
                app.ports,
                who(principal),
                case_id,
                concerns=body.concerns,
                most_pressing=body.most_pressing,
                no_food_today=body.urgent.no_food_today,
                eviction_within_7_days=body.urgent.eviction_within_7_days,
            )
    return schemas.FactsOut(case_id=case_id, changed=changed)


@router.post(
    "/cases/{case_id}/board-status",
    status_code=204,
    tags=["cases"],
    responses={**_CASE_ERRORS, **_MALFORMED, 403: {"description": "Intake and coordinators only"}},
)
async def board_status(
    request: Request, principal: Staff, case_id: CaseId, body: schemas.BoardStatusIn
) -> None:
    """Move a case on the event day board: waiting, in consultation, done."""
    await check_csrf(request, principal)
    with http_errors("body"):
        async with intake(request).transaction() as session:
            await cases.set_board_status(session, who(principal), case_id, body.status)


@router.post(
    "/referrals/{referral_id}/respond",
    status_code=202,
    response_model=schemas.RespondOut,
    tags=["referrals"],
    responses={
        **_UNAUTHORISED,
        **_MALFORMED,
        403: {"description": "Not a member of the referral's programme"},
        404: {"description": "No such referral, or not yours to see"},
        409: {"description": "Not possible in the referral's current status"},
    },
)
async def respond(
    request: Request,
    principal: Staff,
    referral_id: Annotated[str, Path(pattern=schemas.ID_PATTERN)],
    body: schemas.RespondIn,
) -> schemas.RespondOut:
    """Accept, decline (with a reason), start or close (with an outcome) a referral.

    Routing owns the referral's state: the response travels as an event, and the referral shows
    ``submitted_action`` until routing confirms the change.
    """
    await check_csrf(request, principal)
    refuse_unstorable(body.model_dump(), "body")
    app = intake(request)
    with http_errors("body"):
        async with app.transaction() as session:
            result = await referrals.respond(
                session,
                app.ports.outbox,
                who(principal),
                referral_id,
                body.action,
                reason=body.reason,
                outcome=body.outcome,
                reason_code=body.reason_code,
                outcome_code=body.outcome_code,
                keys=app.ports.keys,
            )
    return schemas.RespondOut(**result)


@router.get(
    "/residents/matches",
    response_model=schemas.Matches,
    tags=["residents"],
    responses={**_UNAUTHORISED, 403: {"description": "Intake staff only"}},
)
async def matches(
    request: Request,
    principal: Staff,
    name_kana: Annotated[str | None, Query(max_length=100)] = None,
    birth_date: Annotated[
        str | None, Query(max_length=30, description="1948-05-01 or 昭和23年5月1日")
    ] = None,
    phone: Annotated[str | None, Query(max_length=30)] = None,
) -> schemas.Matches:
    """Residents who may be the one being taken in: two of furigana, birth date, phone agree."""
    if not access.can_take_in(who(principal)):
        raise HTTPException(403, "受付担当者のみ (intake staff only)")
    refuse_unstorable({"name_kana": name_kana, "phone": phone, "birth_date": birth_date}, "query")
    born: date | None = None
    if birth_date:
        try:
            born = parse_birth_date(birth_date)
        except BirthDateError as exc:
            with http_errors("query"):
                raise Invalid("birth_date", str(exc)) from None
    async with intake(request).transaction() as session:
        found = await views.likely_matches(
            session, who(principal), name_kana=name_kana, birth_date=born, phone=phone
        )
    return schemas.Matches(matches=[schemas.MatchOut(**m) for m in found])


# --- the audit log (auditors only) ----------------------------------------------------------


@router.get(
    "/audit",
    tags=["audit"],
    responses={
        **_UNAUTHORISED,
        403: {"description": "Auditors only"},
        200: {"content": {"text/csv": {}}, "description": "Entries, newest first (JSON or CSV)"},
    },
)
async def audit_search(
    request: Request,
    principal: Staff,
    case_id: Annotated[str | None, Query(pattern=schemas.ID_PATTERN)] = None,
    resident_id: Annotated[str | None, Query(pattern=schemas.ID_PATTERN)] = None,
    username: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    """Who saw or changed what, and when: by case (views that showed it included), resident,
    staff member, time span (``from``, ``to``) and action, in intake's audit and in notify's
    and food's (each entry names its ``service``; ``unreachable`` names a service that could
    not be asked). The search itself is audited."""
    domain = who(principal)
    if not access.can_audit(domain):
        raise HTTPException(403, "監査担当者のみ (auditors only)")
    app = intake(request)
    await audit.chain(app.runtime.sessions)
    asked = await audit.prepare(
        app.runtime.sessions,
        case_id=case_id,
        resident_id=resident_id,
        username=username,
        since=from_,
        until=to,
        action=action,
        limit=limit,
    )
    # Notify and food are asked before intake's transaction opens: it is never held open
    # across a remote call, and the search's record commits with what it showed.
    await audit.ask_services(app.settings, asked)
    unreachable = asked.unreachable
    async with app.transaction() as session:
        rows = await audit.search(session, asked)
        given = {
            k: v
            for k, v in (
                ("resident_id", resident_id),
                ("username", username),
                ("from", from_ and from_.isoformat()),
                ("to", to and to.isoformat()),
                ("action", action),
            )
            if v
        }
        await audit.record(session, domain.username, "audit.search", case_id=case_id, filters=given)
    if format == "csv":
        return Response(
            audit.to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    items = [{**r, "at": r["at"].isoformat()} for r in rows]
    # A service that could not be asked is named: its views are missing from the answer.
    return JSONResponse({"items": items, "count": len(items), "unreachable": unreachable})


@router.get(
    "/audit/verify",
    tags=["audit"],
    responses={**_UNAUTHORISED, 403: {"description": "Auditors only"}},
)
async def audit_verify(request: Request, principal: Staff) -> dict[str, Any]:
    """Recompute the audit log's hash chain: ``intact``, or where it breaks."""
    if not access.can_audit(who(principal)):
        raise HTTPException(403, "監査担当者のみ (auditors only)")
    app = intake(request)
    await audit.chain(app.runtime.sessions)
    async with app.transaction() as session:
        broken = await audit.verify(session)
    return {
        "intact": not broken,
        "broken": [
            {"chain_seq": b.chain_seq, "audit_id": b.audit_id, "why": b.why} for b in broken
        ],
    }
