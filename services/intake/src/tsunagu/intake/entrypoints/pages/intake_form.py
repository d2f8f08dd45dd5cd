"""The new case form: the council's intake sheet, duplicate hint and routing preview."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from tsunagu.intake.adapters.routing_preview import Preview
from tsunagu.intake.domain import access, intake_day
from tsunagu.intake.domain.case_input import FORM_ERROR_KEY, CaseInput, japanese_error_messages
from tsunagu.intake.entrypoints.pages.rendering import (
    forbid_unless,
    form_values,
    id_or_none,
    render,
)
from tsunagu.intake.entrypoints.schemas import TAKEN_AT_HEADER, TakenAt
from tsunagu.intake.entrypoints.web import (
    Intake,
    find_unstorable,
    intake,
    staff,
    who,
)
from tsunagu.intake.service_layer import cases, views
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import Conflict, Invalid
from tsunagu.shared.auth import Principal, check_csrf, token_from_request
from tsunagu.shared.contracts.codes import (
    ContactTime,
    Language,
    Sex,
)
from tsunagu.shared.contracts.envelope import utcnow

router = APIRouter()

HOUSEHOLD_ROWS = 3

_TAKEN_AT: TypeAdapter[datetime] = TypeAdapter(TakenAt)


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def case_body(values: dict[str, Any]) -> dict[str, Any]:
    """The intake sheet as the API body (``CaseInput``); blank means not given."""

    def v(name: str) -> str | None:
        value = values.get(name)
        return value.strip() or None if isinstance(value, str) else None

    household = []
    for i in range(HOUSEHOLD_ROWS):
        relationship, age = v(f"household.{i}.relationship"), v(f"household.{i}.age")
        if relationship or age:
            household.append({"relationship": relationship or "", "age": age})
    proxy = None
    if v("proxy.name") or v("proxy.relationship"):
        proxy = {"name": v("proxy.name") or "", "relationship": v("proxy.relationship") or ""}
    resident: dict[str, Any] = {
        "name": v("resident.name") or "",
        "name_kana": v("resident.name_kana") or "",
        "birth_date": v("resident.birth_date"),
        "sex": v("resident.sex") or Sex.NOT_STATED.value,
        "phone": v("resident.phone"),
        "email": v("resident.email"),
        "address": v("resident.address"),
        "language": v("resident.language") or Language.JA.value,
        "lives_alone": _yes_no(v("resident.lives_alone")),
        "disability_certificate": bool(v("resident.disability_certificate")),
        "special_loan_borrower": bool(v("resident.special_loan_borrower")),
        "household": household,
        "proxy": proxy,
    }
    consent: dict[str, Any] = {
        "contact_channels": list(values.get("consent.contact_channels") or []),
        "contact_time": v("consent.contact_time") or ContactTime.ANY.value,
        "sensitive": bool(v("consent.sensitive")),
        "safe_contact": v("consent.safe_contact"),
    }
    # Left out when not chosen, so the message says "please choose" rather than "invalid".
    share = _yes_no(v("consent.share_across_programmes"))
    if share is not None:
        consent["share_across_programmes"] = share
    if v("consent.basis"):
        consent["basis"] = v("consent.basis")
    return {
        "event_id": v("event_id") or "",
        "resident": resident,
        "concerns": list(values.get("concerns") or []),
        "most_pressing": v("most_pressing"),
        "urgent": {
            "no_food_today": bool(v("urgent.no_food_today")),
            "eviction_within_7_days": bool(v("urgent.eviction_within_7_days")),
        },
        "consent": consent,
        "notes": v("notes"),
    }


async def _new_case_events(
    app: Intake, session: Any, taken_at: datetime | None = None
) -> list[dict[str, Any]]:
    """Only events that take residents in today (cases are never taken at another day's event
    unless an admin allowed it), and, for a case a device kept offline, those of the day it
    was taken on while the window still covers it (ADR 32)."""
    day = None if taken_at is None else intake_day.offline_day(taken_at, utcnow())
    return await staff_service.events_taking_residents_in(session, app.today(), also_on=day)


def _taken_at(value: Any) -> datetime | None:
    """When the device says a case kept offline was taken (the offline queue's header, or the
    form opened back from the queue); None when not given or not a time with its offset."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return _TAKEN_AT.validate_python(value.strip())
    except ValidationError:
        return None


def _default_event(events: list[dict[str, Any]], principal: Principal, today: date) -> str:
    todays = [e for e in events if e["event_date"] == today]
    mine = [e for e in todays if e["venue_id"] == principal.venue_id]
    chosen = (mine or todays or [{"event_id": ""}])[0]
    return str(chosen["event_id"])


@router.get("/cases/new")
async def new_case_page(
    request: Request,
    event_id: str | None = None,
    taken_at: str | None = None,
    principal: Principal = Depends(staff),
) -> Response:
    forbid_unless(access.can_take_in(who(principal)))
    app = intake(request)
    # Opened back from the offline queue (?restore=…&taken_at=…): the day it was taken on.
    taken = _taken_at(taken_at)
    async with app.transaction() as session:
        events = await _new_case_events(app, session, taken)
    values = {
        "event_id": id_or_none(event_id) or _default_event(events, principal, app.today()),
        "idempotency_key": str(uuid.uuid4()),
        "taken_at": "" if taken is None else taken.isoformat(),
    }
    return render(
        request,
        "case_new.html",
        principal,
        events=events,
        values=values,
        errors={},
        today=app.today(),
    )


@router.post("/cases/new")
async def new_case_submit(request: Request, principal: Principal = Depends(staff)) -> Response:
    await check_csrf(request, principal)
    domain = who(principal)
    forbid_unless(access.can_take_in(domain))
    app = intake(request)
    form = await request.form()
    values = form_values(form)
    action = values.get("action", "save")
    key = _idempotency_key(values.get("idempotency_key"))
    values["idempotency_key"] = key
    # Sent from the offline queue (its header), or from the form opened back from it (a field).
    taken_at = _taken_at(request.headers.get(TAKEN_AT_HEADER) or values.get("taken_at"))
    values["taken_at"] = "" if taken_at is None else taken_at.isoformat()
    errors: dict[str, str] = {}
    body: CaseInput | None = None
    bad = find_unstorable(values)
    if bad is not None:
        errors[str(bad[0])] = "使用できない文字が含まれています"
    else:
        try:
            body = CaseInput.model_validate(case_body(values))
        except ValidationError as exc:
            errors = japanese_error_messages(exc)

    async with app.transaction() as session:
        if action == "save":
            # Submitted twice (a double tap, a reload): show the case the first one created.
            earlier = await cases.case_for_key(session, principal.username, f"form:{key}")
            if earlier is not None:
                return RedirectResponse(f"/cases/{earlier}", status_code=303)
        events = await _new_case_events(app, session, taken_at)
        matches: list[dict[str, Any]] = []
        preview: Preview | None = None
        if body is not None:
            matches = await views.likely_matches(
                session,
                domain,
                name_kana=body.resident.name_kana,
                birth_date=body.resident.birth_date,
                phone=body.resident.phone,
            )
            event = await staff_service.get_event(session, body.event_id)
            if event is None:
                errors["event_id"] = "相談会が見つかりません"
            elif action == "preview":
                try:
                    facts, consent = cases.facts_and_consent(body, event["event_date"])
                except Invalid as exc:
                    errors[exc.field] = exc.message
                else:
                    found = token_from_request(request)
                    preview = await app.preview.explain(facts, consent, found[0] if found else "")

    choice = values.get("resident_choice", "")
    known = {m["resident_id"] for m in matches}
    if choice not in known:
        choice = "new" if choice == "new" else ""
    values["resident_choice"] = choice
    notice = None
    if body is not None and not errors and action == "save":
        if matches and not choice:
            notice = "new.duplicates_confirm"  # staff must look at the hint before saving
        else:
            try:
                async with app.transaction() as session:
                    created = await cases.create_case(
                        session,
                        app.ports,
                        body,
                        taken_by=principal.username,
                        today=app.today(),
                        idempotency_key=f"form:{key}",
                        resident_id=None if choice in ("", "new") else choice,
                        taken_offline_at=taken_at,
                    )
            except Invalid as exc:
                errors[exc.field] = exc.message
            except Conflict as exc:
                errors[FORM_ERROR_KEY] = str(exc)
            else:
                return RedirectResponse(f"/cases/{created.case_id}", status_code=303)
    return render(
        request,
        "case_new.html",
        principal,
        status_code=422 if errors else 200,
        events=events,
        values=values,
        errors=errors,
        matches=matches,
        preview=preview,
        notice=notice,
        today=app.today(),
    )


def _idempotency_key(value: Any) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(uuid.uuid4())
