"""Cases and eligibility: what the desk learns from routing's topic for it, and staff grants.

Everything arrives on ``routing.food.v1`` (ADR 24), never a concern: ``food_case_routed``
brings the case (ids, the case number, the event, the furigana to find the household, sealed
with the resident's ``kana`` key as intake sealed it, ADR 12: opened only to show it at the
desk) with routing's rule 9 decision; ``food_case_rerouted`` a later yes; a consent withdrawal
and the erasure are in ``privacy``. Rule 9 has one owner, routing's rule set: food follows
its decision. Eligibility is granted at most once per case (primary key), so a replayed or
re-published event never publishes a second ``eligibility_granted``; a correction never takes
it back. A decision made before a consent withdrawal the desk has applied (a replay arriving
late) grants nothing: the newer state wins.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.food_distribution.domain.eligibility import (
    Eligibility,
    eligibility_from_decision,
    manual_grant,
)
from tsunagu.food_distribution.domain.handout import JST
from tsunagu.food_distribution.service_layer import privacy
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.food_distribution.service_layer.errors import Invalid, case_not_found
from tsunagu.food_distribution.service_layer.stock import ensure_event
from tsunagu.shared.contracts import food, routing, topics
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.logs import get_logger
from tsunagu.shared.outbox import OutboxWriter
from tsunagu.shared.parking import park, take_parked

log = get_logger(__name__)
t = tables

#: Routing's decisions on ``routing.case.v1``, which food read before ADR 24: one parked then
#: is still applied when its case arrives.
LEGACY_DECISIONS = (routing.CASE_ROUTED, routing.CASE_REROUTED)


async def on_case_routed(session: AsyncSession, deps: Deps, envelope: Envelope) -> None:
    """A new case with routing's decision: keep what a handout needs, apply what was parked
    for the case, and grant a parcel if rule 9 says so."""
    case = parse(envelope, routing.FoodCaseRouted)
    venue = await ensure_event(
        session,
        case.event_id,
        case.venue_id,
        case.event_date or _jst_date(case.created_at),
        case.venue_name,
    )
    if venue != case.venue_id:
        log.warning("case_venue_differs_from_event", event_id=case.event_id)
    await session.execute(
        insert(t.case_index)
        .values(
            case_id=case.case_id,
            case_number=case.case_number,
            household_id=case.household_id,
            event_id=case.event_id,
            kana_sealed=case.kana_sealed,
            created_at=case.created_at,
        )
        .on_conflict_do_nothing()
    )
    # What was parked first: a withdrawal parked for the case makes its own (older) decision
    # grant nothing, rather than grant and take back.
    await _apply_parked(session, deps, case.case_id)
    await _follow_decision(
        session, deps, envelope, case.case_id, case.food_parcel_eligible, case.rule_version
    )


async def on_case_rerouted(session: AsyncSession, deps: Deps, envelope: Envelope) -> None:
    """A corrected case routing finds eligible. Routing's topic is ordered per case, but its
    ``food_case_routed`` may have been dead-lettered and replayed later: an event for a case
    the desk has not heard of is parked and applied when the case arrives, never dropped."""
    decided = parse(envelope, routing.FoodCaseRerouted)
    if await case_row(session, decided.case_id) is None:
        await park(session, t.parked_event, envelope, decided.case_id)
        return
    await _follow_decision(
        session, deps, envelope, decided.case_id, decided.food_parcel_eligible,
        decided.rule_version,
    )  # fmt: skip


async def _apply_parked(session: AsyncSession, deps: Deps, case_id: str) -> None:
    """What was parked for the case, oldest first (a withdrawal after a decision wins)."""
    for parked in await take_parked(session, t.parked_event, case_id):
        if parked.event_type == routing.FOOD_CASE_REROUTED:
            await on_case_rerouted(session, deps, parked)
        elif parked.event_type == routing.FOOD_CONSENT_WITHDRAWN:
            await privacy.on_consent_withdrawn(session, parked)
        elif parked.event_type in LEGACY_DECISIONS:
            legacy = parse(parked, routing.CaseRouted)
            await _follow_decision(
                session, deps, parked, case_id, legacy.food_parcel_eligible, legacy.rule_version
            )


async def _follow_decision(
    session: AsyncSession,
    deps: Deps,
    envelope: Envelope,
    case_id: str,
    eligible: bool,
    rule_version: str,
) -> None:
    """Grant a parcel if routing's decision says so, unless a consent withdrawal the desk has
    applied came after the decision was made (a late replay: the newer state wins)."""
    case = await case_row(session, case_id)
    assert case is not None
    withdrawn_at = case["withdrawn_at"]
    if withdrawn_at is not None and envelope.occurred_at <= withdrawn_at:
        log.info("decision_before_withdrawal_ignored", case_id=case_id)
        return
    eligibility = eligibility_from_decision(eligible, rule_version)
    if eligibility is not None:
        await _grant(session, deps.outbox, case_id, eligibility, causation=envelope)


async def grant_manually(
    session: AsyncSession, outbox: OutboxWriter, *, case_id: str, staff: str, reason: str
) -> tuple[dict[str, Any], bool]:
    """A staff member's grant, with its reason; returns the eligibility and whether it is new."""
    if await case_row(session, case_id) is None:
        raise case_not_found(case_id)
    try:
        eligibility = manual_grant(case_id, staff, reason)
    except ValueError as exc:
        raise Invalid("reason", "付与の理由を入力してください", str(exc)) from None
    created = await _grant(session, outbox, case_id, eligibility)
    row = await eligibility_row(session, case_id)
    assert row is not None
    return row, created


async def case_row(
    session: AsyncSession, case_id: str, *, for_share: bool = False
) -> dict[str, Any] | None:
    """The case as the desk knows it; ``for_share`` holds its row against a link moving it
    until the transaction ends (or waits for one that is)."""
    query = select(t.case_index).where(t.case_index.c.case_id == case_id)
    if for_share:
        query = query.with_for_update(read=True)
    row = (await session.execute(query)).first()
    return dict(row._mapping) if row else None


async def eligibility_row(session: AsyncSession, case_id: str) -> dict[str, Any] | None:
    row = (
        await session.execute(select(t.eligibility).where(t.eligibility.c.case_id == case_id))
    ).first()
    return dict(row._mapping) if row else None


async def _grant(
    session: AsyncSession,
    outbox: OutboxWriter,
    case_id: str,
    eligibility: Eligibility,
    *,
    causation: Envelope | None = None,
) -> bool:
    # The case's row is read FOR SHARE: a household link at the desk moving this case holds
    # it (it updates the case's household) until it commits, so the grant waits and is made
    # for the household the case joined. Read without the lock it could be made, uncommitted,
    # for the household the case was leaving, which the link's move of eligibility does not
    # see, and the case's parcels would then be refused for want of it.
    case = await case_row(session, case_id, for_share=True)
    assert case is not None
    granted = await session.execute(
        insert(t.eligibility)
        .values(
            case_id=case_id,
            household_id=case["household_id"],
            event_id=case["event_id"],
            basis=str(eligibility.basis),
            reason=eligibility.reason[:500],
            granted_by=eligibility.granted_by,
        )
        .on_conflict_do_nothing()
        .returning(t.eligibility.c.case_id)
    )
    if granted.first() is None:
        return False  # already eligible: nothing new to tell anyone
    data = food.EligibilityGranted(
        case_id=case_id,
        household_id=case["household_id"],
        event_id=case["event_id"],
        basis=eligibility.basis.value,
        reason=eligibility.reason,
        granted_by=eligibility.granted_by,
    )
    await outbox.add(
        session,
        topic=topics.FOOD.name,
        aggregatetype="case",
        aggregateid=case_id,
        envelope=outbox.envelope(
            food.ELIGIBILITY_GRANTED, data.model_dump(mode="json"), causation=causation
        ),
    )
    log.info("eligibility_granted", case_id=case_id, basis=str(eligibility.basis))
    return True


def _jst_date(moment: datetime) -> date:
    return (moment if moment.tzinfo else moment.replace(tzinfo=JST)).astimezone(JST).date()
