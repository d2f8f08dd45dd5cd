"""The cases list and the case page: referrals live, consent, corrections."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from tsunagu.intake.domain import access
from tsunagu.intake.entrypoints.pages.rendering import (
    form_text,
    form_values,
    fragment,
    id_or_none,
    live,
    not_found,
    render,
)
from tsunagu.intake.entrypoints.schemas import FactsIn
from tsunagu.intake.entrypoints.web import (
    find_unstorable,
    intake,
    staff,
    staff_passive,
    who,
)
from tsunagu.intake.service_layer import audit, cases, referrals, views
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import Conflict, Forbidden, Invalid, NotFound
from tsunagu.shared.auth import Principal, check_csrf
from tsunagu.shared.contracts.codes import (
    ConsentGivenBy,
    ConsentMethod,
    ContactChannel,
    Programme,
    SharingBasis,
    StaffRole,
)
from tsunagu.shared.contracts.intake import SupportMeeting

router = APIRouter()

_PROGRAMMES = frozenset(p.value for p in Programme)


@router.get("/cases")
async def cases_page(
    request: Request,
    event_id: str | None = None,
    status: str | None = None,
    programme: str | None = None,
    q: str | None = None,
    page: int = 1,
    principal: Principal = Depends(staff),
) -> Response:
    app = intake(request)
    filters = {
        "event_id": id_or_none(event_id),
        "board_status": status if status in cases.BOARD_STATUSES else None,
        "programme": Programme(programme) if programme in _PROGRAMMES else None,
    }
    # The header's search box: what cannot be stored cannot match anything either.
    query = (q or "").strip()[:100] or None
    if query is not None and find_unstorable(query) is not None:
        query = None
    page = max(1, min(page, 10_000))
    async with app.transaction() as session:
        found = await views.list_cases(
            session,
            who(principal),
            page=page,
            page_size=25,
            q=query,
            today=app.today(),
            **filters,
        )
        events = await staff_service.list_events(
            session,
            from_date=app.today() - timedelta(days=90),
            to_date=app.today() + timedelta(days=31),
        )
    pages = max(1, -(-found["total"] // found["page_size"]))
    return render(
        request,
        "cases.html",
        principal,
        found=found,
        filters=filters,
        query=query or "",
        events=events,
        pages=pages,
        page_link=lambda n: (
            "/cases?"
            + urlencode(
                {
                    k: v
                    for k, v in {
                        "event_id": event_id,
                        "status": status,
                        "programme": programme,
                        "q": query,
                        "page": n,
                    }.items()
                    if v
                }
            )
        ),
    )


@router.get("/cases/{case_id}")
async def case_page(
    request: Request, case_id: str, principal: Principal = Depends(staff)
) -> Response:
    return await _case_page(request, principal, case_id)


async def _case_page(
    request: Request,
    principal: Principal,
    case_id: str,
    *,
    status_code: int = 200,
    facts_errors: dict[str, str] | None = None,
    safe_errors: dict[str, str] | None = None,
    consent_error: str | None = None,
) -> Response:
    app = intake(request)
    if not id_or_none(case_id):
        raise not_found()
    domain = who(principal)
    try:
        async with app.transaction() as session:
            view = await views.case_view(
                session,
                domain,
                case_id,
                audit_as="case.page",
                today=app.today(),
                keys=app.ports.keys,
            )
            full = "concerns" in view
            earlier = (
                await views.earlier_visits(session, domain, view["resident_id"], case_id)
                if full
                else []
            )
            trail = await audit.trail(session, case_id) if full else []
            statuses = await views.referral_statuses(session, case_id)
    except NotFound:
        raise not_found() from None
    works_the_case = bool(domain.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR})
    return render(
        request,
        "case.html",
        principal,
        status_code=status_code,
        case=view,
        full=full,
        earlier=earlier,
        trail=trail,
        may_consent=full and access.can_change_consent(domain, statuses),
        may_move=works_the_case,
        may_edit=full and works_the_case,
        facts_errors=facts_errors or {},
        safe_errors=safe_errors or {},
        case_id=case_id,
        may_refer=full and works_the_case,
        requested=request.query_params.get("requested") == "1",
        consent_error=consent_error,
        referral_rows=[_referral_row(r) for r in view.get("referrals", [])],
    )


@router.post("/cases/{case_id}/facts")
async def facts_submit(
    request: Request, case_id: str, principal: Principal = Depends(staff)
) -> Response:
    await check_csrf(request, principal)
    if not id_or_none(case_id):
        raise not_found()
    app = intake(request)
    form = await request.form()
    values = form_values(form)
    try:
        body = FactsIn.model_validate(
            {
                "concerns": values.get("concerns") or [],
                "most_pressing": values.get("most_pressing") or None,
                "urgent": {
                    "no_food_today": bool(values.get("urgent.no_food_today")),
                    "eviction_within_7_days": bool(values.get("urgent.eviction_within_7_days")),
                },
            }
        )
    except ValidationError as exc:
        errors = {str(e["loc"][0]): _facts_message(e) for e in exc.errors()}
        return await _case_page(request, principal, case_id, status_code=422, facts_errors=errors)
    try:
        async with app.transaction() as session:
            await cases.update_facts(
                session,
                app.ports,
                who(principal),
                case_id,
                concerns=body.concerns,
                most_pressing=body.most_pressing,
                no_food_today=body.urgent.no_food_today,
                eviction_within_7_days=body.urgent.eviction_within_7_days,
            )
    except NotFound:
        raise not_found() from None
    except Forbidden:
        raise HTTPException(403, "この操作の権限がありません") from None
    except Invalid as exc:
        return await _case_page(
            request, principal, case_id, status_code=422, facts_errors={exc.field: exc.message}
        )
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


def _facts_message(error: Any) -> str:
    if error["type"] in ("too_short", "missing"):
        return "相談内容を1つ以上選んでください"
    if error["type"] in ("duplicate_concern", "most_pressing_not_in_concerns"):
        return str(error["msg"])
    return "選択肢が正しくありません"


def _referral_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "awaiting_confirmation": referrals.awaiting(row)}


@router.get("/cases/{case_id}/stream")
async def case_stream(
    request: Request, case_id: str, principal: Principal = Depends(staff_passive)
) -> Response:
    app = intake(request)
    domain = who(principal)
    if not id_or_none(case_id):
        raise not_found()
    async with app.transaction() as session:
        if not access.can_view_case(domain, await views.referral_statuses(session, case_id)):
            raise not_found()

    async def render_referrals() -> str | None:
        async with app.transaction() as session:
            if not access.can_view_case(domain, await views.referral_statuses(session, case_id)):
                return None  # consent withdrawn while the page was open: the stream ends
            rows = await views.referrals_of(session, case_id, app.ports.keys)
            routing = await views.routing_of(session, case_id)
            food = await views.food_status(session, case_id)
        return fragment(
            app,
            request,
            "_referrals.html",
            principal,
            referral_rows=[_referral_row(r) for r in rows],
            routing=routing,
            food=food,
            case_id=case_id,
            may_refer=bool(domain.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR}),
        )

    return live(request, render_referrals, case_id=case_id)


@router.post("/cases/{case_id}/consent")
async def consent_submit(
    request: Request, case_id: str, principal: Principal = Depends(staff)
) -> Response:
    await check_csrf(request, principal)
    if not id_or_none(case_id):
        raise not_found()
    app = intake(request)
    form = await request.form()
    action = form_text(form, "action")
    basis_code = form_text(form, "basis") or SharingBasis.CONSENT.value
    given_by = form_text(form, "given_by")
    given_how = form_text(form, "given_how")
    held_on = form_text(form, "meeting_held_on")
    reference = form_text(form, "meeting_reference")[:100]
    confirmation = form_text(form, "confirmation") == "on"
    if (
        action not in ("give", "withdraw")
        or basis_code not in (SharingBasis.CONSENT.value, SharingBasis.SUPPORT_MEETING.value)
        or given_by not in ("", *ConsentGivenBy)
        or given_how not in ("", *ConsentMethod)
    ):
        raise HTTPException(422, "選択肢が正しくありません")
    meeting = None
    try:
        if held_on or reference:
            meeting = SupportMeeting(held_on=held_on, reference=reference)  # type: ignore[arg-type]
    except ValidationError:
        return await _case_page(
            request,
            principal,
            case_id,
            status_code=422,
            consent_error="支援会議の開催日と記録番号を正しく入力してください",
        )
    try:
        async with app.transaction() as session:
            await cases.change_consent(
                session,
                app.ports,
                who(principal),
                case_id,
                give=action == "give",
                basis=SharingBasis(basis_code),
                given_by=ConsentGivenBy(given_by) if given_by else None,
                given_how=ConsentMethod(given_how) if given_how else None,
                meeting=meeting,
                confirmation=confirmation,
            )
    except NotFound:
        raise not_found() from None
    except Forbidden:
        raise HTTPException(403, "この操作の権限がありません") from None
    except Invalid as exc:
        return await _case_page(
            request, principal, case_id, status_code=422, consent_error=exc.message
        )
    return RedirectResponse(f"/cases/{case_id}#consent", status_code=303)


@router.post("/cases/{case_id}/safe-contact")
async def safe_contact_submit(
    request: Request, case_id: str, principal: Principal = Depends(staff)
) -> Response:
    """Mark the case sensitive (or not) and choose its safe contact, from the case page."""
    await check_csrf(request, principal)
    if not id_or_none(case_id):
        raise not_found()
    app = intake(request)
    form = await request.form()
    code = form_text(form, "safe_contact")
    try:
        safe = ContactChannel(code) if code else None
    except ValueError:
        errors = {"safe_contact": "選択肢が正しくありません"}
        return await _case_page(request, principal, case_id, status_code=422, safe_errors=errors)
    try:
        async with app.transaction() as session:
            await cases.set_safe_contact(
                session,
                app.ports,
                who(principal),
                case_id,
                sensitive=bool(form_text(form, "sensitive")),
                safe_contact=safe,
            )
    except NotFound:
        raise not_found() from None
    except Forbidden:
        raise HTTPException(403, "この操作の権限がありません") from None
    except Invalid as exc:
        errors = {exc.field: exc.message}
        return await _case_page(request, principal, case_id, status_code=422, safe_errors=errors)
    return RedirectResponse(f"/cases/{case_id}#consent", status_code=303)


@router.post("/cases/{case_id}/referrals")
async def referral_request_submit(
    request: Request, case_id: str, principal: Principal = Depends(staff)
) -> Response:
    """「提案の窓口に紹介する」 and 「紹介を追加」: ask routing for the referral."""
    await check_csrf(request, principal)
    if not id_or_none(case_id):
        raise not_found()
    app = intake(request)
    form = await request.form()
    code = form_text(form, "programme")
    after = id_or_none(form_text(form, "after_referral_id") or None)
    if code not in _PROGRAMMES:
        raise HTTPException(422, "窓口の選択肢が正しくありません")
    try:
        async with app.transaction() as session:
            await referrals.request_referral(
                session,
                app.ports.outbox,
                who(principal),
                case_id,
                Programme(code),
                after_referral_id=after,
            )
    except NotFound:
        raise not_found() from None
    except Forbidden:
        raise HTTPException(403, "この操作の権限がありません") from None
    except (Conflict, Invalid) as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/cases/{case_id}?requested=1#referrals", status_code=303)
