"""Cases and eligibility: what the desk learns from intake and routing, and staff grants.

Of a case the service keeps only what a handout needs: ids, the case number, the event and the
furigana to find the household, sealed with the resident's ``kana`` key as intake sent it
(ADR 12): opened only to show it at the desk.
Eligibility follows routing's decision (rule 9 has one owner, routing's rule set): a
``case_routed`` or ``case_rerouted`` with ``food_parcel_eligible`` grants it; the case's
concerns are never read here. It is granted at most once per case (primary key), so a replayed
or re-published event never publishes a second ``eligibility_granted``, and never revoked.
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
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.food_distribution.service_layer.errors import Invalid, case_not_found
from tsunagu.food_distribution.service_layer.stock import ensure_event
from tsunagu.shared.contracts import food, intake, routing, topics
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.crypto import ContactSealError, Sealer
from tsunagu.shared.internal import KeyUnavailable
from tsunagu.shared.logs import get_logger
from tsunagu.shared.outbox import OutboxWriter
from tsunagu.shared.parking import park, take_parked

log = get_logger(__name__)
t = tables


async def on_case_created(session: AsyncSession, deps: Deps, envelope: Envelope) -> None:
    case = parse(envelope, intake.CaseCreated)
    venue = await ensure_event(
        session, case.event_id, case.venue_id, _jst_date(case.created_at), case.venue_name
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
    for parked in await take_parked(session, t.parked_event, case.case_id):
        if parked.event_type in (routing.CASE_ROUTED, routing.CASE_REROUTED):
            await on_case_decided(session, deps, parked)


async def on_case_decided(session: AsyncSession, deps: Deps, envelope: Envelope) -> None:
    """Routing's decision on a case (``case_routed``, ``case_rerouted``): eligible under rule 9
    grants a parcel. Routing's events and intake's travel on different topics, so a decision
    may come before the case: it is parked and applied when the case arrives, never dropped."""
    model = (
        routing.CaseRerouted if envelope.event_type == routing.CASE_REROUTED else routing.CaseRouted
    )
    decided = parse(envelope, model)
    if await case_row(session, decided.case_id) is None:
        await park(session, t.parked_event, envelope, decided.case_id)
        return
    eligibility = eligibility_from_decision(decided.food_parcel_eligible, decided.rule_version)
    if eligibility is not None:
        await _grant(session, deps.outbox, decided.case_id, eligibility, causation=envelope)


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


async def case_row(session: AsyncSession, case_id: str) -> dict[str, Any] | None:
    row = (
        await session.execute(select(t.case_index).where(t.case_index.c.case_id == case_id))
    ).first()
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
    case = await case_row(session, case_id)
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


async def open_kana(sealer: Sealer, sealed: str | None) -> str | None:
    """The furigana, or None if there is none, the resident was erased, or the key cannot be
    had just now (the household can still be found by its case number)."""
    if not sealed:
        return None
    try:
        value = await sealer.open(sealed)
    except ContactSealError:
        return None
    except KeyUnavailable:
        log.warning("kana_key_unavailable")
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:200]


def _jst_date(moment: datetime) -> date:
    return (moment if moment.tzinfo else moment.replace(tzinfo=JST)).astimezone(JST).date()
