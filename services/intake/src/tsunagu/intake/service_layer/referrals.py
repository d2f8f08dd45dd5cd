"""Programme staff's responses to referrals, and the inbox they work from.

Routing owns referral state: a response is sent as ``referral_response_submitted`` and shown as
"awaiting confirmation" until routing's ``referral_status_changed`` comes back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.domain import access
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer.errors import Conflict, Forbidden, Invalid, NotFound
from tsunagu.intake.service_layer.keys import KeyStore
from tsunagu.intake.service_layer.views import referral_statuses
from tsunagu.shared.contracts import intake as contract
from tsunagu.shared.contracts.codes import (
    DECLINE_REASON_LABELS_JA,
    REFERRAL_OUTCOME_LABELS_JA,
    DeclineReason,
    Programme,
    ReferralOutcome,
    ReferralStatus,
    StaffRole,
)
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.contracts.topics import INTAKE_REFERRAL_RESPONSE
from tsunagu.shared.crypto import Purpose
from tsunagu.shared.outbox import OutboxWriter

#: After this long without routing's confirmation the buttons come back (a lost response).
AWAITING_CONFIRMATION = timedelta(minutes=2)

#: The free text a response must carry (the contract's fields): a decline its reason, a close
#: its outcome, with the message staff see when it is missing.
_NEEDS_TEXT: dict[str, tuple[str, str]] = {
    "decline": ("reason", "お断りする理由を入力してください"),
    "close": ("outcome", "終結の結果を入力してください"),
}
_STATUS_JA = {
    "suggested": "同意待ち",
    "pending": "受付待ち",
    "accepted": "受付済み",
    "declined": "お断り",
    "in_progress": "支援中",
    "closed": "終結",
    "escalated": "期限超過",
    "withdrawn": "取り下げ",
}
_ACTION_JA = {
    "accept": "受ける",
    "decline": "お断りする",
    "start": "支援を始める",
    "close": "終結する",
}


def refusal(status: str, action: str, allowed: list[str]) -> str:
    """Why routing would refuse ``action`` now, in the words staff read."""
    could = "、".join(_ACTION_JA.get(a, a) for a in allowed) or "なし"
    return (
        f"この紹介は今「{_STATUS_JA.get(status, status)}」のため、"
        f"「{_ACTION_JA.get(action, action)}」はできません（今できる操作: {could}）"
    )


async def respond(
    session: AsyncSession,
    outbox: OutboxWriter,
    who: access.Principal,
    referral_id: str,
    action: contract.ReferralAction,
    *,
    reason: str | None = None,
    outcome: str | None = None,
    reason_code: DeclineReason | None = None,
    outcome_code: ReferralOutcome | None = None,
    keys: KeyStore,
) -> dict[str, Any]:
    f = tables.referral
    row = (
        await session.execute(select(f).where(f.c.referral_id == referral_id).with_for_update())
    ).first()
    if row is None:
        raise NotFound(referral_id)
    try:
        programme = Programme(row.programme)
        status = ReferralStatus(row.status)
    except ValueError:
        raise NotFound(referral_id) from None
    if not access.can_respond_to_referral(who, programme):
        if access.can_view_case(who, await referral_statuses(session, row.case_id)):
            raise Forbidden(referral_id)
        raise NotFound(referral_id)  # another programme's referral: no hint it exists
    # Routing owns the lifecycle: its last event named what it accepts now. Not told yet (an
    # event from before routing named them): routing decides, and refuses in its history.
    allowed = row.allowed_actions
    if allowed is not None and action not in allowed:
        raise Conflict(refusal(status.value, action, list(allowed)))
    # A code chosen without words: its label is the text (routing's lifecycle wants text).
    if action == "decline" and reason_code is not None and not (reason or "").strip():
        reason = DECLINE_REASON_LABELS_JA[reason_code]
    if action == "close" and outcome_code is not None and not (outcome or "").strip():
        outcome = REFERRAL_OUTCOME_LABELS_JA[outcome_code]
    if action in _NEEDS_TEXT:
        field, message = _NEEDS_TEXT[action]
        given = {"reason": reason, "outcome": outcome}
        if not (given[field] or "").strip():
            raise Invalid(field, message)
    reason = reason if action == "decline" else None
    outcome = outcome if action == "close" else None
    reason_code = reason_code if action == "decline" else None
    outcome_code = outcome_code if action == "close" else None
    data = contract.ReferralResponseSubmitted(
        case_id=row.case_id,
        referral_id=referral_id,
        programme=programme,
        action=action,
        reason=reason,
        outcome=outcome,
        reason_code=reason_code,
        outcome_code=outcome_code,
        staff=who.username,
    )
    data = await _sealed_words(session, keys, data)
    envelope = outbox.envelope(contract.REFERRAL_RESPONSE_SUBMITTED, data.model_dump(mode="json"))
    await outbox.add(
        session,
        topic=INTAKE_REFERRAL_RESPONSE.name,
        aggregatetype="case",
        aggregateid=row.case_id,
        envelope=envelope,
    )
    submitted_at = utcnow()
    await session.execute(
        f.update()
        .where(f.c.referral_id == referral_id)
        .values(submitted_action=action, submitted_at=submitted_at)
    )
    await audit.record(
        session,
        who.username,
        f"referral.{action}",
        case_id=row.case_id,
        target=referral_id,
        programme=programme.value,
    )
    return {
        "referral_id": referral_id,
        "case_id": row.case_id,
        "action": action,
        "status": status.value,
        "submitted_at": submitted_at,
        "awaiting_confirmation": True,
    }


def awaiting(row: Any) -> bool:
    """Has staff submitted a response routing has not confirmed yet (and recently)?"""
    return bool(
        row["submitted_action"]
        and row["submitted_at"] is not None
        and utcnow() - row["submitted_at"] < AWAITING_CONFIRMATION
    )


async def inbox(
    session: AsyncSession, who: access.Principal, *, include_closed: bool = False
) -> list[dict[str, Any]]:
    """The inbox page: its rows, and a record that ``who`` looked at them."""
    items = await inbox_rows(session, who, include_closed=include_closed)
    await audit.record(
        session,
        who.username,
        "inbox.view",
        count=len(items),
        case_ids=sorted({x["case_id"] for x in items}),
    )
    return items


async def inbox_rows(
    session: AsyncSession, who: access.Principal, *, include_closed: bool = False
) -> list[dict[str, Any]]:
    """Referrals to the programmes ``who`` works in, most urgent first (never suggested ones)."""
    f, c, r = tables.referral, tables.case, tables.resident
    programmes = [p.value for p in who.programmes]
    if not programmes:
        return []
    hidden = [s.value for s in access.NOT_HOLDING]
    if not include_closed:
        hidden += [
            ReferralStatus.CLOSED.value,
            ReferralStatus.DECLINED.value,
            ReferralStatus.WITHDRAWN.value,
        ]
    rows = await session.execute(
        select(
            f,
            c.c.case_number,
            c.c.event_id,
            c.c.concerns,
            c.c.most_pressing,
            c.c.urgent_no_food_today,
            c.c.urgent_eviction_within_7_days,
            r.c.name,
            r.c.name_kana,
        )
        .join(c, c.c.case_id == f.c.case_id)
        .join(r, r.c.resident_id == c.c.resident_id)
        .where(f.c.programme.in_(programmes), f.c.status.not_in(hidden))
        .order_by(f.c.deadline_at.asc().nulls_last(), f.c.updated_at.desc())
        .limit(200)
    )
    items = []
    for row in rows:
        item = dict(row._mapping)
        item["awaiting_confirmation"] = awaiting(item)
        item["actions"] = list(item["allowed_actions"] or [])
        items.append(item)
    return items


async def request_referral(
    session: AsyncSession,
    outbox: OutboxWriter,
    who: access.Principal,
    case_id: str,
    programme: Programme,
    *,
    after_referral_id: str | None = None,
) -> dict[str, Any]:
    """Ask routing for one more referral (``referral_requested``); routing makes it.

    Intake staff and coordinators may; a programme the case already has a referral with is
    refused here (routing would ignore it too).
    """
    statuses = await referral_statuses(session, case_id)
    exists_ = await session.scalar(
        select(tables.case.c.case_id).where(tables.case.c.case_id == case_id)
    )
    if exists_ is None or not access.can_view_case(who, statuses):
        raise NotFound(case_id)
    if not who.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR}:
        raise Forbidden(case_id)
    if programme in statuses:
        raise Conflict("この窓口にはすでに紹介しています")
    if after_referral_id is not None:
        f = tables.referral
        declined = (
            await session.execute(
                select(f.c.status).where(
                    f.c.referral_id == after_referral_id, f.c.case_id == case_id
                )
            )
        ).first()
        if declined is None or declined.status != ReferralStatus.DECLINED.value:
            raise Invalid("after_referral_id", "お断りされた紹介が見つかりません")
    data = contract.ReferralRequested(
        case_id=case_id,
        programme=programme,
        requested_by=who.username,
        after_referral_id=after_referral_id,
    )
    envelope = outbox.envelope(contract.REFERRAL_REQUESTED, data.model_dump(mode="json"))
    await outbox.add(
        session,
        topic=INTAKE_REFERRAL_RESPONSE.name,
        aggregatetype="case",
        aggregateid=case_id,
        envelope=envelope,
    )
    await audit.record(
        session,
        who.username,
        "referral.request",
        case_id=case_id,
        programme=programme.value,
        after_decline=after_referral_id is not None,
    )
    return {"case_id": case_id, "programme": programme.value}


async def _sealed_words(
    session: AsyncSession, keys: KeyStore, data: contract.ReferralResponseSubmitted
) -> contract.ReferralResponseSubmitted:
    """Staff's own words travel sealed with the resident's ``record`` key (ADR 12): only the
    chosen code's label stays readable in ``reason`` / ``outcome`` (codes name no one)."""
    resident_id = (
        await session.execute(
            select(tables.case.c.resident_id).where(tables.case.c.case_id == data.case_id)
        )
    ).scalar_one_or_none()
    if resident_id is None:
        return data
    changes: dict[str, Any] = {}
    for field, code, labels in (
        ("reason", data.reason_code, DECLINE_REASON_LABELS_JA),
        ("outcome", data.outcome_code, REFERRAL_OUTCOME_LABELS_JA),
    ):
        words = getattr(data, field)
        label = None if code is None else labels[code]  # type: ignore[index]
        if words is None or words == label:
            continue
        changes[f"{field}_sealed"] = await keys.seal(session, resident_id, Purpose.RECORD, words)
        changes[field] = label
    return data.model_copy(update=changes) if changes else data
