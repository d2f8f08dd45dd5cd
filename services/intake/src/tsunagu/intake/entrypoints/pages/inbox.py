"""The programme inbox: only that programme's referrals, and its responses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from tsunagu.intake.entrypoints.pages.rendering import (
    forbid_unless,
    form_text,
    fragment,
    id_or_none,
    live,
    not_found,
    render,
)
from tsunagu.intake.entrypoints.web import (
    find_unstorable,
    intake,
    staff,
    staff_passive,
    who,
)
from tsunagu.intake.service_layer import audit, referrals
from tsunagu.intake.service_layer.errors import Conflict, Forbidden, Invalid, NotFound
from tsunagu.shared.auth import Principal, check_csrf
from tsunagu.shared.contracts.codes import DeclineReason, ReferralOutcome, StaffRole

router = APIRouter()


@router.get("/inbox")
async def inbox_page(
    request: Request, closed: bool = False, principal: Principal = Depends(staff)
) -> Response:
    domain = who(principal)
    forbid_unless(StaffRole.PROGRAMME in domain.roles and bool(domain.programmes))
    async with intake(request).transaction() as session:
        items = await referrals.inbox(session, domain, include_closed=closed)
    return render(request, "inbox.html", principal, items=items, closed=closed)


@router.get("/inbox/stream")
async def inbox_stream(
    request: Request, closed: bool = False, principal: Principal = Depends(staff_passive)
) -> Response:
    domain = who(principal)
    forbid_unless(StaffRole.PROGRAMME in domain.roles and bool(domain.programmes))
    app = intake(request)
    shown: set[str] = set()

    async def render_inbox() -> str:
        async with app.transaction() as session:
            items = await referrals.inbox_rows(session, domain, include_closed=closed)
            seen = {x["case_id"] for x in items}
            if seen - shown:  # every case the stream newly shows is audited
                await audit.record(
                    session, domain.username, "inbox.stream", case_ids=sorted(seen - shown)
                )
                shown.update(seen)
        return fragment(app, request, "_inbox.html", principal, items=items, closed=closed)

    return live(request, render_inbox)


@router.post("/inbox/referrals/{referral_id}/respond")
async def inbox_respond(
    request: Request, referral_id: str, principal: Principal = Depends(staff)
) -> Response:
    await check_csrf(request, principal)
    app = intake(request)
    form = await request.form()
    action = form_text(form, "action")
    reason = form_text(form, "reason")[:500] or None
    outcome = form_text(form, "outcome")[:1000] or None
    reason_code = _code(DeclineReason, form_text(form, "reason_code"))
    outcome_code = _code(ReferralOutcome, form_text(form, "outcome_code"))
    message = None
    if action not in ("accept", "decline", "start", "close") or not id_or_none(referral_id):
        raise HTTPException(422, "操作が正しくありません")
    if find_unstorable([reason or "", outcome or ""]) is not None:
        message = "使用できない文字が含まれています"
    else:
        try:
            async with app.transaction() as session:
                await referrals.respond(
                    session,
                    app.ports.outbox,
                    who(principal),
                    referral_id,
                    action,
                    reason=reason,
                    outcome=outcome,
                    reason_code=reason_code,
                    outcome_code=outcome_code,
                    keys=app.ports.keys,
                )
        except NotFound:
            raise not_found() from None
        except Forbidden:
            raise HTTPException(403, "この操作の権限がありません") from None
        except (Conflict, Invalid) as exc:
            message = str(exc)
    if message is None:
        return RedirectResponse(f"/inbox#referral-{referral_id}", status_code=303)
    async with app.transaction() as session:
        items = await referrals.inbox(session, who(principal))
    return render(
        request,
        "inbox.html",
        principal,
        status_code=422,
        items=items,
        closed=False,
        error=message,
        error_referral=referral_id,
    )


def _code(codes: Any, value: str) -> Any:
    """The chosen code, or None (not chosen, or not one of the list)."""
    try:
        return codes(value) if value else None
    except ValueError:
        return None
