"""What routing and food distribution report back, applied to intake's read model.

Handlers run inside the inbox transaction (``runtime.consume``), so each event applies once.
Events about a case intake does not hold are skipped: intake is the only source of cases, so
they can only come from elsewhere (another environment sharing the topic, a test).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.contracts import food, routing
from tsunagu.shared.contracts.codes import ReferralRole, ReferralStatus
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)


async def _known(session: AsyncSession, case_id: str, event_type: str) -> bool:
    if case_id in _known_cases(session):
        return True  # found for the whole batch (``prepare``); a case is never deleted
    found = await session.scalar(
        select(tables.case.c.case_id).where(tables.case.c.case_id == case_id)
    )
    if found is None:
        log.info("event_for_unknown_case_skipped", event_type=event_type, case_id=case_id)
    return found is not None


async def prepare(session: AsyncSession, batch: list[Envelope]) -> None:
    """Which of a batch's cases intake holds, in one query rather than one per event
    (ADR 22); a case not found here is looked up again by its event's handler."""
    wanted = {case_id for e in batch if isinstance(case_id := e.data.get("case_id"), str)}
    if wanted:
        c = tables.case.c
        found = await session.scalars(select(c.case_id).where(c.case_id.in_(sorted(wanted))))
        _known_cases(session).update(found)


_KNOWN = "tsunagu_intake_known_cases"  # session.info key: (the transaction, cases found in it)


def _known_cases(session: AsyncSession) -> set[str]:
    """Cases found in the session's current transaction (forgotten with it)."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return set()
    held: tuple[object, set[str]] | None = session.info.get(_KNOWN)
    if held is None or held[0] is not transaction:
        held = (transaction, set())
        session.info[_KNOWN] = held
    return held[1]


async def on_case_routed(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.CaseRouted)
    await _apply_decision(session, envelope, data, {})


async def on_case_rerouted(session: AsyncSession, envelope: Envelope) -> None:
    """A corrected case routed again: the referrals as they now stand, and what changed."""
    data = parse(envelope, routing.CaseRerouted)
    by_id = {r.referral_id: r.programme.value for r in data.referrals}
    change = {
        "rerouted_at": envelope.occurred_at,
        "rerouted": {
            "added": [by_id[i] for i in data.added if i in by_id],
            "withdrawn": [by_id[i] for i in data.withdrawn if i in by_id],
        },
    }
    await _apply_decision(session, envelope, data, change)


async def _apply_decision(
    session: AsyncSession,
    envelope: Envelope,
    data: routing.CaseRouted | routing.CaseRerouted,
    extra: dict[str, Any],
) -> None:
    if not await _known(session, data.case_id, envelope.event_type):
        return
    g = tables.case_routing
    values = {
        "rule_version": data.rule_version,
        "lead": data.lead.value,
        "coordinator": None if data.coordinator is None else data.coordinator.value,
        "compound": data.compound,
        "urgent": data.urgent,
        "food_parcel_eligible": data.food_parcel_eligible,
        "awaiting_consent": [p.value for p in data.awaiting_consent],
        "external": [e.model_dump(mode="json") for e in data.external],
        **extra,
    }
    inserted = {"routed_at": envelope.occurred_at, **values}
    await session.execute(
        insert(g)
        .values(case_id=data.case_id, **inserted)
        .on_conflict_do_update(
            index_elements=[g.c.case_id],
            set_=inserted if isinstance(data, routing.CaseRouted) else values,
        )
    )
    if not data.referrals:
        return
    f = tables.referral
    # The case's referrals in one statement, each once (the last wins, as it would one by one).
    once = {referral.referral_id: referral for referral in data.referrals}
    statement = insert(f).values(
        [
            {
                "referral_id": referral.referral_id,
                "case_id": data.case_id,
                "programme": referral.programme.value,
                "role": referral.role.value,
                "status": referral.status.value,
                "reasons": [r.model_dump(mode="json") for r in referral.reasons],
                "deadline_at": referral.deadline_at,
                "allowed_actions": referral.allowed_actions,
                "updated_at": envelope.occurred_at,
            }
            for referral in once.values()
        ]
    )
    columns = ("case_id", "programme", "role", "status", "reasons", "deadline_at")
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[f.c.referral_id],
            set_={
                name: statement.excluded[name]
                for name in (*columns, "allowed_actions", "updated_at")
            },
        )
    )


async def on_referral_status_changed(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.ReferralStatusChanged)
    if not await _known(session, data.case_id, envelope.event_type):
        return
    f = tables.referral
    changes = {
        "status": data.status.value,
        "escalated": data.status is ReferralStatus.ESCALATED,
        # Staff's words arrive sealed with the resident's record key; opened only to show.
        "last_reason": data.reason_sealed or data.reason,
        "last_outcome": data.outcome_sealed or data.outcome,
        "last_reason_code": None if data.reason_code is None else data.reason_code.value,
        "last_outcome_code": None if data.outcome_code is None else data.outcome_code.value,
        "suggested_next": None if data.suggested_next is None else data.suggested_next.value,
        "allowed_actions": data.allowed_actions,
        # Routing has decided on what staff sent: no longer awaiting confirmation.
        "submitted_action": None,
        "submitted_at": None,
        "updated_at": envelope.occurred_at,
    }
    await session.execute(
        insert(f)
        .values(
            referral_id=data.referral_id,
            case_id=data.case_id,
            programme=data.programme.value,
            role=ReferralRole.MEMBER.value,  # case_routed, which carries the role, comes first
            reasons=[],
            **changes,
        )
        .on_conflict_do_update(index_elements=[f.c.referral_id], set_=changes)
    )


async def on_referral_escalated(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.ReferralEscalated)
    if not await _known(session, data.case_id, envelope.event_type):
        return
    f = tables.referral
    await session.execute(
        f.update()
        .where(f.c.referral_id == data.referral_id)
        .values(
            escalated=True,
            deadline_at=data.deadline_at,
            allowed_actions=data.allowed_actions,
            updated_at=envelope.occurred_at,
        )
    )


async def on_eligibility_granted(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, food.EligibilityGranted)
    if not await _known(session, data.case_id, envelope.event_type):
        return
    fe = tables.food_eligibility
    values = {"basis": data.basis, "granted_at": envelope.occurred_at}
    await session.execute(
        insert(fe)
        .values(
            case_id=data.case_id, household_id=data.household_id, event_id=data.event_id, **values
        )
        .on_conflict_do_update(index_elements=[fe.c.case_id], set_=values)
    )


async def on_parcel_handed_out(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, food.ParcelHandedOut)
    if not await _known(session, data.case_id, envelope.event_type):
        return
    fe = tables.food_eligibility
    values = {
        "parcel_type": data.parcel_type.value,
        "handed_out_at": data.handed_out_at,
        "handed_out_by": data.handed_out_by,
    }
    await session.execute(
        insert(fe)
        .values(
            case_id=data.case_id, household_id=data.household_id, event_id=data.event_id, **values
        )
        .on_conflict_do_update(index_elements=[fe.c.case_id], set_=values)
    )


ROUTING_HANDLERS = {
    routing.CASE_ROUTED: on_case_routed,
    routing.CASE_REROUTED: on_case_rerouted,
    routing.REFERRAL_STATUS_CHANGED: on_referral_status_changed,
    routing.REFERRAL_ESCALATED: on_referral_escalated,
}
FOOD_HANDLERS = {
    food.ELIGIBILITY_GRANTED: on_eligibility_granted,
    food.PARCEL_HANDED_OUT: on_parcel_handed_out,
}
