"""Routing's handlers: route a new case, follow consent, apply responses, escalate deadlines.

Each message handler runs inside the consumer's inbox transaction (``runtime.consume``): its
rows and its outbox events commit together with the inbox record, or not at all. Events go to
``routing.case.v1`` (the case's closed loop, read by intake), to the programme's own topic
``routing.programme.<programme>.v1`` (read by the programme's team) and to the food desk's
``routing.food.v1`` (what a handout needs, never a concern: ADR 24) and notify's
``routing.notify.v1`` (the twin of each ``routing.case.v1`` event, without reasons: ADR 25);
all are keyed by case id.

An event about a case routing has not routed yet (``case_updated``, ``consent_changed``,
``referral_requested``) is parked, not dead-lettered, and applied when the case's
``case_created`` arrives: intake's two topics are not ordered with each other, and a
``case_created`` dead-lettered and replayed later comes after the events that follow it. The
decision keeps when intake made the facts and the consent it holds; an older event arriving
later (a replay) changes nothing (ADR 10).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Executable, Row, Table, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.routing.adapters.orm import RoutingTables
from tsunagu.routing.config import Clock
from tsunagu.routing.domain import (
    WITHDRAWN_NOT_NEEDED,
    Action,
    Decision,
    HeldReferral,
    InvalidTransition,
    RuleSet,
    deadline_after_correction,
    deadline_for,
    next_after_decline,
    reroute,
    restore,
    transition,
    withdraw_for_consent,
)
from tsunagu.routing.domain.lifecycle import HOLDING_STATUSES, WITHDRAWN_CONSENT
from tsunagu.routing.domain.need_to_know import programme_concerns
from tsunagu.routing.service_layer.mapping import (
    allowed_actions,
    check_event_concerns,
    decision_of_event,
    external_referrals,
    facts_record,
)
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts import routing as routing_events
from tsunagu.shared.contracts.codes import Programme, ReferralRole, ReferralStatus, SharingBasis
from tsunagu.shared.contracts.envelope import Envelope, new_id
from tsunagu.shared.contracts.reasons import Reason, ReasonCode
from tsunagu.shared.contracts.registry import parse, schema_version_of
from tsunagu.shared.contracts.topics import (
    ROUTING_CASE,
    ROUTING_FOOD,
    ROUTING_NOTIFY,
    programme_topic_name,
)
from tsunagu.shared.logs import get_logger
from tsunagu.shared.messaging import PermanentError
from tsunagu.shared.outbox import OutboxWriter
from tsunagu.shared.parking import park, take_parked

log = get_logger(__name__)

#: Who the history names when routing itself changes a referral.
SYSTEM = "routing"
CASE_TOPIC = ROUTING_CASE.name
FOOD_TOPIC = ROUTING_FOOD.name
NOTIFY_TOPIC = ROUTING_NOTIFY.name


@dataclass(frozen=True)
class Routing:
    """What every handler needs: the tables, the rule set in force, the outbox, the clock."""

    tables: RoutingTables
    rules: RuleSet
    outbox: OutboxWriter
    clock: Clock

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the routing clock must return timezone-aware datetimes")
        return now

    async def emit(
        self,
        session: AsyncSession,
        topics: Sequence[str],
        event_type: str,
        data: BaseModel,
        *,
        case_id: str,
        cause: Envelope | None = None,
    ) -> None:
        """Add the event to the outbox once per topic (each copy has its own event id), under
        the schema version of its contract (routing's own, or intake's for a forwarded one).

        An event on ``routing.case.v1`` is followed at once by its twin for notify on
        ``routing.notify.v1``, without reasons (ADR 25): every event notify reads from routing
        passes here, so notify's topic is told the same, in the same order."""
        for topic in topics:
            envelope = self.outbox.envelope(
                event_type,
                data.model_dump(mode="json"),
                causation=cause,
                schema_version=schema_version_of(event_type),
            )
            await self.outbox.add(
                session, topic=topic, aggregatetype="case", aggregateid=case_id, envelope=envelope
            )
            if topic == CASE_TOPIC:
                await self._tell_notify(session, envelope, case_id)

    async def _tell_notify(self, session: AsyncSession, envelope: Envelope, case_id: str) -> None:
        twin_type, model = routing_events.NOTIFY_TWINS[envelope.event_type]
        twin = self.outbox.twin(
            envelope,
            twin_type,
            model.model_validate(envelope.data).model_dump(mode="json"),
            schema_version=schema_version_of(twin_type),
        )
        await self.outbox.add(
            session, topic=NOTIFY_TOPIC, aggregatetype="case", aggregateid=case_id, envelope=twin
        )


# --- case_created ---------------------------------------------------------------------------


async def on_case_created(routing: Routing, session: AsyncSession, envelope: Envelope) -> None:
    """Decide, store the decision and one referral per programme, publish what is shared."""
    check_event_concerns(envelope.data)
    case = parse(envelope, intake.CaseCreated)
    facts, decision = decision_of_event(case.facts, case.consent.basis, routing.rules)
    now = routing.now()
    t = routing.tables

    stored = await session.execute(
        _first_decision(t.decision),
        {
            "case_id": case.case_id,
            "case_number": case.case_number,
            "event_id": case.event_id,
            "rule_version": decision.rule_version,
            "urgent": decision.urgent,
            "sharing_basis": facts.sharing_basis.value,
            "facts": facts_record(facts),
            "decision": decision.to_dict(),
            "facts_changed_at": envelope.occurred_at,
            "consent_changed_at": envelope.occurred_at,
            "created_at": now,
            "updated_at": now,
        },
    )
    if stored.first() is None:
        # Another event for a case already routed (e.g. re-sent under a new event id).
        log.info("case_already_routed", case_id=case.case_id)
        return

    referrals = _new_referrals(routing, case.case_id, decision, decision.programmes, now)
    await session.execute(insert(t.referral), referrals)
    await _record_created(session, t, referrals, at=now, cause=envelope)

    routed = routing_events.CaseRouted(
        case_id=case.case_id,
        case_number=case.case_number,
        event_id=case.event_id,
        rule_version=decision.rule_version,
        lead=decision.lead,
        coordinator=decision.coordinator,
        compound=decision.compound,
        urgent=decision.urgent,
        food_parcel_eligible=decision.food_parcel_eligible,
        referrals=[_referral_view(r) for r in referrals],
        awaiting_consent=list(decision.awaiting_consent),
        external=external_referrals(decision),
    )
    await routing.emit(
        session,
        [CASE_TOPIC],
        routing_events.CASE_ROUTED,
        routed,
        case_id=case.case_id,
        cause=envelope,
    )
    # The food desk's copy: intake's household, event and sealed furigana (passed on unopened)
    # with rule 9's decision, and nothing of the facts it was taken on.
    for_food = routing_events.FoodCaseRouted(
        case_id=case.case_id,
        case_number=case.case_number,
        event_id=case.event_id,
        venue_id=case.venue_id,
        venue_name=case.venue_name,
        household_id=case.household_id,
        created_at=case.created_at,
        event_date=case.event_date,
        kana_sealed=case.kana_sealed,
        food_parcel_eligible=decision.food_parcel_eligible,
        rule_version=decision.rule_version,
    )
    await routing.emit(
        session,
        [FOOD_TOPIC],
        routing_events.FOOD_CASE_ROUTED,
        for_food,
        case_id=case.case_id,
        cause=envelope,
    )
    concerns = [c.value for c in facts.concerns]
    for r in referrals:
        if r["status"] == ReferralStatus.PENDING:
            await _referral_created(
                routing,
                session,
                r,
                case_number=case.case_number,
                event_id=case.event_id,
                urgent=decision.urgent,
                concerns=concerns,
                cause=envelope,
            )
    log.info(
        "case_routed",
        case_id=case.case_id,
        rule_version=decision.rule_version,
        programmes=[p.value for p in decision.programmes],
        awaiting_consent=[p.value for p in decision.awaiting_consent],
        urgent=decision.urgent,
    )
    await _apply_parked(routing, session, case.case_id)


@cache
def _first_decision(table: Table) -> Executable:
    """A case's decision, unless it has one: built once, then taken from SQLAlchemy's
    compiled cache for every case routed (ADR 22)."""
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.case_id])
        .returning(table.c.case_id)
    )


#: What may be parked until its case is routed, and the handler that applies it then.
def _parked_handlers() -> dict[str, Any]:
    return {
        intake.CASE_UPDATED: on_case_updated,
        intake.CONSENT_CHANGED: on_consent_changed,
        intake.REFERRAL_REQUESTED: on_referral_requested,
    }


async def _park(routing: Routing, session: AsyncSession, envelope: Envelope, case_id: str) -> None:
    """Keep ``envelope`` until its case is routed (recorded as handled: never dead-lettered)."""
    await park(session, routing.tables.parked_event, envelope, case_id, routing.now())


async def _apply_parked(routing: Routing, session: AsyncSession, case_id: str) -> None:
    """Apply what was parked for the case just routed, oldest event first, in this transaction
    (a rollback parks it again)."""
    parked = await take_parked(session, routing.tables.parked_event, case_id)
    handlers = _parked_handlers()
    for envelope in parked:
        await handlers[envelope.event_type](routing, session, envelope)
    if parked:
        log.info("parked_events_applied", case_id=case_id, count=len(parked))


def _older(made: datetime, held: datetime | None) -> bool:
    """An event made before the state routing holds (a replay arriving late): ignored."""
    return held is not None and made < held


def _new_referrals(
    routing: Routing,
    case_id: str,
    decision: Decision,
    programmes: Sequence[Programme],
    now: datetime,
) -> list[dict[str, Any]]:
    """New referral rows for ``programmes``: pending (with a deadline) if the programme
    receives the case now, suggested while it awaits a sharing basis."""
    deadline = deadline_for(now, decision.urgent, routing.rules)
    rows = []
    for programme in programmes:
        status = decision.initial_status(programme)
        shared = status is ReferralStatus.PENDING
        rows.append(
            {
                "referral_id": new_id(),
                "case_id": case_id,
                "programme": programme.value,
                "role": decision.roles[programme].value,
                "status": status.value,
                "deadline_at": deadline if shared else None,
                "reasons": [r.model_dump(mode="json") for r in decision.reasons[programme]],
                "shared_at": now if shared else None,
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def _referral_view(row: Mapping[str, Any]) -> routing_events.Referral:
    """A referral row as the contract shows it, with what staff may do to it now."""
    return routing_events.Referral.model_validate(
        {**row, "allowed_actions": allowed_actions(row["status"])}
    )


# --- case_updated ---------------------------------------------------------------------------


async def on_case_updated(routing: Routing, session: AsyncSession, envelope: Envelope) -> None:
    """Route a corrected case again (``tsunagu.routing.domain.reroute``).

    The decision is taken on the new facts with the sharing basis routing holds now, exactly as
    for a new case. New programmes get a referral (and hear of it on their topic if it is shared
    now); pending referrals no longer needed are withdrawn (their programme hears of it);
    accepted or in-progress ones are kept. ``case_rerouted`` tells intake the whole picture.
    """
    check_event_concerns(envelope.data)
    update_ = parse(envelope, intake.CaseUpdated)
    t = routing.tables
    case = (
        await session.execute(
            select(t.decision).where(t.decision.c.case_id == update_.case_id).with_for_update()
        )
    ).first()
    if case is None:
        await _park(routing, session, envelope, update_.case_id)
        return
    if _older(envelope.occurred_at, case.facts_changed_at):
        log.info("older_event_ignored", case_id=case.case_id, event_type=envelope.event_type)
        return
    facts, decision = decision_of_event(
        update_.facts, SharingBasis(case.sharing_basis), routing.rules
    )
    now = routing.now()
    rows = (
        (
            await session.execute(
                select(t.referral).where(t.referral.c.case_id == case.case_id).with_for_update()
            )
        )
        .mappings()
        .all()
    )
    held = [
        HeldReferral(
            referral_id=r["referral_id"],
            programme=Programme(r["programme"]),
            role=ReferralRole(r["role"]),
            status=ReferralStatus(r["status"]),
            reason=r["reason"],
        )
        for r in rows
    ]
    plan = reroute(decision, held)
    await session.execute(
        update(t.decision)
        .where(t.decision.c.case_id == case.case_id)
        .values(
            rule_version=decision.rule_version,
            urgent=decision.urgent,
            facts=facts_record(facts),
            decision=decision.to_dict(),
            facts_changed_at=envelope.occurred_at,
            updated_at=now,
        )
    )
    current: dict[str, dict[str, Any]] = {r["referral_id"]: dict(r) for r in rows}

    added = _new_referrals(routing, case.case_id, decision, plan.add, now)
    if added:
        await session.execute(insert(t.referral), added)
    for r in added:
        current[r["referral_id"]] = r
    await _record_created(session, t, added, at=now, cause=envelope)

    for referral_id, role in plan.roles.items():
        current[referral_id].update(role=role.value, updated_at=now)
        await session.execute(
            update(t.referral)
            .where(t.referral.c.referral_id == referral_id)
            .values(role=role.value, updated_at=now)
        )
    # Withdrawn by an earlier correction, needed again: suggested, and released at once if
    # the programme receives the case now (a new deadline from now).
    reinstated: list[dict[str, Any]] = []
    deadline = deadline_for(now, decision.urgent, routing.rules)
    for referral_id in plan.reinstate:
        r = current[referral_id]
        previous = ReferralStatus(r["status"])
        status = transition(previous, Action.REINSTATE)
        await _record(
            session, t, r, Action.REINSTATE, previous, status, by=SYSTEM, at=now, cause=envelope
        )
        values: dict[str, Any] = {"status": status.value, "reason": None, "updated_at": now}
        if decision.initial_status(Programme(r["programme"])) is ReferralStatus.PENDING:
            released = transition(status, Action.RELEASE)
            await _record(
                session, t, r, Action.RELEASE, status, released, by=SYSTEM, at=now, cause=envelope
            )
            values.update(status=released.value, deadline_at=deadline, shared_at=now)
        r.update(values)
        await session.execute(
            update(t.referral).where(t.referral.c.referral_id == referral_id).values(**values)
        )
        reinstated.append(r)

    # A correction that makes the case urgent shortens the deadline of every referral still
    # waiting to be accepted (the deadline scanner goes by the stored one).
    added_ids = {r["referral_id"] for r in added}
    for r in current.values():
        if (
            r["status"] != ReferralStatus.PENDING
            or r["referral_id"] in added_ids
            or r["referral_id"] in plan.reinstate
            or r["referral_id"] in plan.withdraw
        ):
            continue
        sooner = deadline_after_correction(r["deadline_at"], now, decision.urgent, routing.rules)
        if sooner != r["deadline_at"]:
            r.update(deadline_at=sooner, updated_at=now)
            await session.execute(
                update(t.referral)
                .where(t.referral.c.referral_id == r["referral_id"])
                .values(deadline_at=sooner, updated_at=now)
            )

    # Kept referrals the decision still reaches carry its reasons for them now.
    for r in current.values():
        programme = Programme(r["programme"])
        if r["referral_id"] not in plan.withdraw and programme in decision.reasons:
            reasons = [why.model_dump(mode="json") for why in decision.reasons[programme]]
            if r["reasons"] != reasons:
                r["reasons"] = reasons
                await session.execute(
                    update(t.referral)
                    .where(t.referral.c.referral_id == r["referral_id"])
                    .values(reasons=reasons)
                )

    withdrawn_events: list[tuple[dict[str, Any], ReferralStatus]] = []
    for referral_id in plan.withdraw:
        r = current[referral_id]
        previous = ReferralStatus(r["status"])
        status = transition(previous, Action.WITHDRAW, reason=WITHDRAWN_NOT_NEEDED)
        r.update(status=status.value, reason=WITHDRAWN_NOT_NEEDED, updated_at=now)
        await session.execute(
            update(t.referral)
            .where(t.referral.c.referral_id == referral_id)
            .values(status=status.value, reason=WITHDRAWN_NOT_NEEDED, updated_at=now)
        )
        await _record(
            session,
            t,
            r,
            Action.WITHDRAW,
            previous,
            status,
            by=SYSTEM,
            at=now,
            cause=envelope,
            reason=WITHDRAWN_NOT_NEEDED,
        )
        withdrawn_events.append((r, previous))

    order = {p: i for i, p in enumerate(decision.programmes)}
    referrals = sorted(
        current.values(), key=lambda r: (order.get(Programme(r["programme"]), 99), r["programme"])
    )
    rerouted = routing_events.CaseRerouted(
        case_id=case.case_id,
        case_number=case.case_number,
        event_id=case.event_id,
        rule_version=decision.rule_version,
        lead=decision.lead,
        coordinator=decision.coordinator,
        compound=decision.compound,
        urgent=decision.urgent,
        food_parcel_eligible=decision.food_parcel_eligible,
        referrals=[_referral_view(r) for r in referrals],
        added=[r["referral_id"] for r in added + reinstated],
        withdrawn=list(plan.withdraw),
        awaiting_consent=[
            Programme(r["programme"]) for r in referrals if r["status"] == ReferralStatus.SUGGESTED
        ],
        external=external_referrals(decision),
    )
    await routing.emit(
        session,
        [CASE_TOPIC],
        routing_events.CASE_REROUTED,
        rerouted,
        case_id=case.case_id,
        cause=envelope,
    )
    if decision.food_parcel_eligible:
        # The food desk acts only on a yes (a correction never takes a grant back).
        await routing.emit(
            session,
            [FOOD_TOPIC],
            routing_events.FOOD_CASE_REROUTED,
            routing_events.FoodCaseRerouted(
                case_id=case.case_id,
                food_parcel_eligible=True,
                rule_version=decision.rule_version,
            ),
            case_id=case.case_id,
            cause=envelope,
        )
    concerns = [c.value for c in facts.concerns]
    for r in added + reinstated:
        if r["status"] == ReferralStatus.PENDING:
            await _referral_created(
                routing,
                session,
                r,
                case_number=case.case_number,
                event_id=case.event_id,
                urgent=decision.urgent,
                concerns=concerns,
                cause=envelope,
            )
    for r, previous in withdrawn_events:
        changed = routing_events.ReferralStatusChanged(
            case_id=case.case_id,
            case_number=case.case_number,
            referral_id=r["referral_id"],
            programme=r["programme"],
            status=ReferralStatus.WITHDRAWN,
            previous_status=previous,
            by=SYSTEM,
            reason=WITHDRAWN_NOT_NEEDED,
            allowed_actions=[],
        )
        # The programme hears of it only if it had received the case.
        topics = [CASE_TOPIC]
        if r.get("shared_at") is not None:
            topics.append(programme_topic_name(r["programme"]))
        await routing.emit(
            session,
            topics,
            routing_events.REFERRAL_STATUS_CHANGED,
            changed,
            case_id=case.case_id,
            cause=envelope,
        )
    log.info(
        "case_rerouted",
        case_id=case.case_id,
        rule_version=decision.rule_version,
        added=[r["programme"] for r in added],
        withdrawn=[current[i]["programme"] for i in plan.withdraw],
    )


async def _referral_created(
    routing: Routing,
    session: AsyncSession,
    referral: Mapping[str, Any],
    *,
    case_number: str,
    event_id: str,
    urgent: bool,
    concerns: list[str],
    cause: Envelope,
) -> None:
    """The programme receives the case: referral_created on its own topic, with the concerns
    that programme needs (``domain.need_to_know``), never more."""
    shown, scope = programme_concerns(referral["role"], referral["reasons"], concerns)
    created = routing_events.ReferralCreated(
        case_id=referral["case_id"],
        case_number=case_number,
        event_id=event_id,
        referral_id=referral["referral_id"],
        programme=referral["programme"],
        role=referral["role"],
        urgent=urgent,
        deadline_at=referral["deadline_at"],
        concerns=shown,
        concerns_scope=scope,
        reasons=referral["reasons"],
        allowed_actions=allowed_actions(referral["status"]),
    )
    await routing.emit(
        session,
        [programme_topic_name(referral["programme"])],
        routing_events.REFERRAL_CREATED,
        created,
        case_id=referral["case_id"],
        cause=cause,
    )


# --- consent_changed ------------------------------------------------------------------------


async def on_consent_changed(routing: Routing, session: AsyncSession, envelope: Envelope) -> None:
    """A basis given releases the suggested referrals; a withdrawal is told to every programme
    that received the case, and nothing more is shared until a basis is given again."""
    change = parse(envelope, intake.ConsentChanged)
    t = routing.tables
    case = (
        await session.execute(
            select(t.decision).where(t.decision.c.case_id == change.case_id).with_for_update()
        )
    ).first()
    if case is None:
        await _park(routing, session, envelope, change.case_id)
        return
    if _older(envelope.occurred_at, case.consent_changed_at):
        log.info("older_event_ignored", case_id=case.case_id, event_type=envelope.event_type)
        return
    basis = change.consent.basis
    withdrawn = basis is SharingBasis.NONE and (
        change.withdrawn or case.sharing_basis != SharingBasis.NONE
    )
    now = routing.now()
    values: dict[str, Any] = {
        "sharing_basis": basis.value,
        "consent_changed_at": envelope.occurred_at,
        "updated_at": now,
    }
    if withdrawn:
        values["consent_withdrawn_at"] = now
    await session.execute(
        update(t.decision).where(t.decision.c.case_id == change.case_id).values(**values)
    )
    if basis is not SharingBasis.NONE:
        await _restore_withdrawn(routing, session, case, change.changed_by, envelope, now)
        await _release_suggested(routing, session, case, change.changed_by, envelope, now)
    elif withdrawn:
        await _withdraw_referrals(routing, session, case, change.changed_by, envelope, now)
        await _tell_withdrawal(routing, session, case, envelope, now)
        # The food desk keeps only what a handout recorded (it reads no consent of its own).
        await routing.emit(
            session,
            [FOOD_TOPIC],
            routing_events.FOOD_CONSENT_WITHDRAWN,
            routing_events.FoodConsentWithdrawn(case_id=case.case_id, withdrawn_at=now),
            case_id=case.case_id,
            cause=envelope,
        )


async def _withdraw_referrals(
    routing: Routing,
    session: AsyncSession,
    case: Row[Any],
    by: str,
    cause: Envelope,
    now: datetime,
) -> None:
    """Every programme but the lead loses the case: its referral becomes ``withdrawn``.

    The lead keeps it (someone must stay in touch with the resident about the withdrawal
    itself). A withdrawn referral is not pending, so the deadline scanner never escalates it.
    """
    t = routing.tables
    lead = case.decision.get("lead")
    rows = (
        await session.execute(
            select(t.referral)
            .where(
                t.referral.c.case_id == case.case_id,
                t.referral.c.programme != lead,
                t.referral.c.status.in_([s.value for s in HOLDING_STATUSES]),
            )
            .order_by(t.referral.c.programme)
            .with_for_update()
        )
    ).all()
    for row in rows:
        status = withdraw_for_consent(row.status)
        await session.execute(
            update(t.referral)
            .where(t.referral.c.referral_id == row.referral_id)
            .values(status=status.value, updated_at=now)
        )
        await _record(
            session,
            t,
            row._mapping,
            Action.WITHDRAW,
            row.status,
            status,
            by=by,
            at=now,
            cause=cause,
            reason=WITHDRAWN_CONSENT,
        )
        await _status_changed(
            routing, session, case, row, status, by=by, cause=cause, reason=WITHDRAWN_CONSENT
        )
    if rows:
        log.info(
            "referrals_withdrawn", case_id=case.case_id, programmes=[r.programme for r in rows]
        )


async def _restore_withdrawn(
    routing: Routing,
    session: AsyncSession,
    case: Row[Any],
    by: str,
    cause: Envelope,
    now: datetime,
) -> None:
    """A basis given again puts each referral withdrawn with consent back in the status it had;
    one that was waiting for acceptance gets a fresh deadline (its clock stopped while it was
    withdrawn). A referral a correction withdrew (no longer needed) stays withdrawn."""
    t = routing.tables
    rows = (
        await session.execute(
            select(t.referral)
            .where(
                t.referral.c.case_id == case.case_id,
                t.referral.c.status == ReferralStatus.WITHDRAWN,
            )
            .order_by(t.referral.c.programme)
            .with_for_update()
        )
    ).all()
    h = t.referral_status_change
    deadline = deadline_for(now, case.urgent, routing.rules)
    restored = []
    for row in rows:
        last = (
            await session.execute(
                select(h.c.from_status, h.c.reason)
                .where(
                    h.c.referral_id == row.referral_id,
                    h.c.action == Action.WITHDRAW.value,
                    h.c.applied.is_(True),
                )
                .order_by(h.c.id.desc())
                .limit(1)
            )
        ).first()
        if last is None or last.reason != WITHDRAWN_CONSENT:
            continue  # withdrawn by a correction: final
        restored.append(row)
        status = restore(row.status, last.from_status)
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if status is ReferralStatus.PENDING:
            values["deadline_at"] = deadline
        await session.execute(
            update(t.referral).where(t.referral.c.referral_id == row.referral_id).values(**values)
        )
        await _record(
            session, t, row._mapping, Action.RESTORE, row.status, status, by=by, at=now, cause=cause
        )
        await _status_changed(routing, session, case, row, status, by=by, cause=cause)
    if restored:
        log.info(
            "referrals_restored", case_id=case.case_id, programmes=[r.programme for r in restored]
        )


async def _status_changed(
    routing: Routing,
    session: AsyncSession,
    case: Row[Any],
    row: Row[Any],
    status: ReferralStatus,
    *,
    by: str,
    cause: Envelope,
    reason: str | None = None,
) -> None:
    """Intake's closed loop and the programme's own topic hear of a withdrawal or restore."""
    changed = routing_events.ReferralStatusChanged(
        case_id=row.case_id,
        case_number=case.case_number,
        referral_id=row.referral_id,
        programme=row.programme,
        status=status,
        previous_status=row.status,
        by=by,
        reason=reason,
        allowed_actions=allowed_actions(status),
    )
    await routing.emit(
        session,
        [CASE_TOPIC, programme_topic_name(row.programme)],
        routing_events.REFERRAL_STATUS_CHANGED,
        changed,
        case_id=row.case_id,
        cause=cause,
    )


async def _release_suggested(
    routing: Routing,
    session: AsyncSession,
    case: Row[Any],
    by: str,
    cause: Envelope,
    now: datetime,
) -> None:
    t = routing.tables
    rows = (
        await session.execute(
            select(t.referral)
            .where(
                t.referral.c.case_id == case.case_id,
                t.referral.c.status == ReferralStatus.SUGGESTED,
            )
            .with_for_update()
        )
    ).all()
    order: list[str] = case.decision["programmes"]  # the decision's order: lead first
    rows = sorted(rows, key=lambda r: order.index(r.programme) if r.programme in order else 99)
    deadline = deadline_for(now, case.urgent, routing.rules)
    for row in rows:
        status = transition(row.status, Action.RELEASE)
        await session.execute(
            update(t.referral)
            .where(t.referral.c.referral_id == row.referral_id)
            .values(status=status.value, deadline_at=deadline, shared_at=now, updated_at=now)
        )
        referral = {**row._mapping, "status": status.value, "deadline_at": deadline}
        await _record(
            session, t, referral, Action.RELEASE, row.status, status, by=by, at=now, cause=cause
        )
        await _referral_created(
            routing,
            session,
            referral,
            case_number=case.case_number,
            event_id=case.event_id,
            urgent=case.urgent,
            concerns=case.facts["concerns"],
            cause=cause,
        )
        changed = routing_events.ReferralStatusChanged(
            case_id=row.case_id,
            case_number=case.case_number,
            referral_id=row.referral_id,
            programme=row.programme,
            status=status,
            previous_status=row.status,
            by=by,
            allowed_actions=allowed_actions(status),
        )
        # The programme hears of it by referral_created; intake's closed loop by this.
        await routing.emit(
            session,
            [CASE_TOPIC],
            routing_events.REFERRAL_STATUS_CHANGED,
            changed,
            case_id=row.case_id,
            cause=cause,
        )
    if rows:
        log.info("referrals_released", case_id=case.case_id, programmes=[r.programme for r in rows])


async def _tell_withdrawal(
    routing: Routing, session: AsyncSession, case: Row[Any], cause: Envelope, now: datetime
) -> None:
    t = routing.tables
    received = await session.execute(
        select(t.referral.c.programme)
        .where(t.referral.c.case_id == case.case_id, t.referral.c.shared_at.is_not(None))
        .order_by(t.referral.c.shared_at, t.referral.c.programme)
    )
    programmes = list(received.scalars())
    for programme in programmes:
        withdrawn = routing_events.ConsentWithdrawn(
            case_id=case.case_id,
            case_number=case.case_number,
            programme=programme,
            withdrawn_at=now,
        )
        await routing.emit(
            session,
            [programme_topic_name(programme)],
            routing_events.CONSENT_WITHDRAWN,
            withdrawn,
            case_id=case.case_id,
            cause=cause,
        )
    log.info("consent_withdrawal_told", case_id=case.case_id, programmes=programmes)


# --- referral_response_submitted ------------------------------------------------------------


async def on_referral_response(routing: Routing, session: AsyncSession, envelope: Envelope) -> None:
    """Apply a programme's accept / decline / start / close.

    A response the referral's current status does not allow (two staff answering at once, a
    late click after another change) is a normal race, not a broken message: it is recorded in
    the history as refused (``applied`` false, with the lifecycle's reason), logged, and
    changes nothing. It is not dead-lettered. A response naming a referral routing never made
    can never apply: that one is dead-lettered.
    """
    response = parse(envelope, intake.ReferralResponseSubmitted)
    t = routing.tables
    await lock_case(session, routing, response.case_id)
    row = (
        await session.execute(
            select(t.referral, t.decision.c.case_number)
            .join(t.decision, t.decision.c.case_id == t.referral.c.case_id)
            .where(t.referral.c.referral_id == response.referral_id)
            .with_for_update(of=t.referral)
        )
    ).first()
    if row is None or (row.case_id, row.programme) != (response.case_id, response.programme):
        raise PermanentError(
            f"no referral {response.referral_id} to {response.programme} on case {response.case_id}"
        )
    now = routing.now()
    current = ReferralStatus(row.status)
    referral = row._mapping
    try:
        status = transition(
            current,
            response.action,
            reason=response.reason_sealed or response.reason,
            outcome=response.outcome_sealed or response.outcome,
        )
    except InvalidTransition as exc:
        await _record(
            session,
            t,
            referral,
            response.action,
            current,
            current,
            by=response.staff,
            at=now,
            cause=envelope,
            applied=False,
            note=str(exc),
        )
        log.warning(
            "referral_response_refused",
            referral_id=row.referral_id,
            action=response.action,
            status=current.value,
            error=str(exc),
        )
        return

    values: dict[str, Any] = {"status": status.value, "updated_at": now}
    suggested_next: Programme | None = None
    if status is ReferralStatus.DECLINED:
        referred = await session.execute(
            select(t.referral.c.programme).where(t.referral.c.case_id == row.case_id)
        )
        suggested_next = next_after_decline(
            [Programme(p) for p in referred.scalars()], Programme(row.programme), routing.rules
        )
        values["suggested_next"] = suggested_next
        if suggested_next is None:  # the coordinator declined and nobody else is left
            log.warning("decline_leaves_no_programme", referral_id=row.referral_id)
    if status is ReferralStatus.ACCEPTED:
        values["taken_by"] = response.staff
    # Staff's words arrive sealed (ADR 12): stored and forwarded as they came, never opened.
    reason = response.reason_sealed or response.reason
    outcome = response.outcome_sealed or response.outcome
    if reason is not None:
        values["reason"] = reason
    if outcome is not None:
        values["outcome"] = outcome
    if response.reason_code is not None and status is ReferralStatus.DECLINED:
        values["reason_code"] = response.reason_code.value
    if response.outcome_code is not None and status is ReferralStatus.CLOSED:
        values["outcome_code"] = response.outcome_code.value
    await session.execute(
        update(t.referral).where(t.referral.c.referral_id == row.referral_id).values(**values)
    )
    await _record(
        session,
        t,
        referral,
        response.action,
        current,
        status,
        by=response.staff,
        at=now,
        cause=envelope,
        reason=reason,
        outcome=outcome,
        suggested_next=suggested_next,
    )
    changed = routing_events.ReferralStatusChanged(
        case_id=row.case_id,
        case_number=row.case_number,
        referral_id=row.referral_id,
        programme=row.programme,
        status=status,
        previous_status=current,
        by=response.staff,
        reason=response.reason,
        outcome=response.outcome,
        reason_sealed=response.reason_sealed,
        outcome_sealed=response.outcome_sealed,
        reason_code=values.get("reason_code"),
        outcome_code=values.get("outcome_code"),
        suggested_next=suggested_next,
        taken_by=values.get("taken_by", row.taken_by),
        allowed_actions=allowed_actions(status),
    )
    await routing.emit(
        session,
        [CASE_TOPIC, programme_topic_name(row.programme)],
        routing_events.REFERRAL_STATUS_CHANGED,
        changed,
        case_id=row.case_id,
        cause=envelope,
    )
    log.info(
        "referral_status_changed",
        referral_id=row.referral_id,
        programme=row.programme,
        status=status.value,
        previous_status=current.value,
        suggested_next=suggested_next,
    )


# --- referral_requested ---------------------------------------------------------------------

#: Why a referral staff asked for was made: after a decline (routing's suggestion) or added.
REQUESTED_AFTER_DECLINE = Reason(code=ReasonCode.REQUESTED_AFTER_DECLINE)
REQUESTED_BY_STAFF = Reason(code=ReasonCode.REQUESTED_BY_STAFF)


async def on_referral_requested(
    routing: Routing, session: AsyncSession, envelope: Envelope
) -> None:
    """Staff asked for one more referral: make it, as a member of the case, and tell everyone
    as for a re-routing (``case_rerouted`` with the referral in ``added``; the programme hears
    ``referral_created`` if the case is shared now). A programme the case already has a
    referral with gets no second one: nothing changes, and the request is only logged. A
    request for a case not routed yet is parked and made when the case is routed."""
    request = parse(envelope, intake.ReferralRequested)
    t = routing.tables
    await lock_case(session, routing, request.case_id)
    case = (
        await session.execute(select(t.decision).where(t.decision.c.case_id == request.case_id))
    ).first()
    if case is None:
        await _park(routing, session, envelope, request.case_id)
        return
    rows = [
        dict(r)
        for r in (
            await session.execute(select(t.referral).where(t.referral.c.case_id == case.case_id))
        )
        .mappings()
        .all()
    ]
    if any(r["programme"] == request.programme.value for r in rows):
        log.info(
            "referral_request_already_referred",
            case_id=case.case_id,
            programme=request.programme.value,
        )
        return
    now = routing.now()
    shared = SharingBasis(case.sharing_basis) is not SharingBasis.NONE
    reason = REQUESTED_AFTER_DECLINE if request.after_referral_id else REQUESTED_BY_STAFF
    referral = {
        "referral_id": new_id(),
        "case_id": case.case_id,
        "programme": request.programme.value,
        "role": ReferralRole.MEMBER.value,
        "status": (ReferralStatus.PENDING if shared else ReferralStatus.SUGGESTED).value,
        "deadline_at": deadline_for(now, case.urgent, routing.rules) if shared else None,
        "reasons": [reason.model_dump(mode="json")],
        "shared_at": now if shared else None,
        "created_at": now,
        "updated_at": now,
    }
    await session.execute(insert(t.referral).values(**referral))
    await _record(
        session,
        t,
        referral,
        "create",
        None,
        referral["status"],
        by=request.requested_by,
        at=now,
        cause=envelope,
    )
    decision: dict[str, Any] = case.decision
    referrals = [*rows, referral]
    rerouted = routing_events.CaseRerouted(
        case_id=case.case_id,
        case_number=case.case_number,
        event_id=case.event_id,
        rule_version=case.rule_version,
        lead=decision["lead"],
        coordinator=decision.get("coordinator"),
        compound=decision["compound"],
        urgent=case.urgent,
        food_parcel_eligible=decision["food_parcel_eligible"],
        referrals=[_referral_view(r) for r in referrals],
        added=[referral["referral_id"]],
        awaiting_consent=[
            Programme(r["programme"]) for r in referrals if r["status"] == ReferralStatus.SUGGESTED
        ],
        external=[
            routing_events.ExternalReferral.model_validate(e)
            for e in decision.get("external_referrals", [])
        ],
    )
    await routing.emit(
        session,
        [CASE_TOPIC],
        routing_events.CASE_REROUTED,
        rerouted,
        case_id=case.case_id,
        cause=envelope,
    )
    if shared:
        concerns = list(case.facts.get("concerns", [])) if isinstance(case.facts, dict) else []
        await _referral_created(
            routing,
            session,
            referral,
            case_number=case.case_number,
            event_id=case.event_id,
            urgent=case.urgent,
            concerns=concerns,
            cause=envelope,
        )
    log.info(
        "referral_requested_made",
        case_id=case.case_id,
        programme=request.programme.value,
        status=referral["status"],
    )


# --- escalation -----------------------------------------------------------------------------


async def lock_case(session: AsyncSession, routing: Routing, case_id: str) -> None:
    """Take the case's ``decision`` row lock before changing any of its referrals.

    Every transaction that changes a case's referrals (the consumers, the deadline scanner)
    locks the case first, so they run one after another per case: the later one writes its
    outbox rows after the earlier one committed, their sequence numbers follow commit order,
    and the relay publishes the case's events in the order they happened. The scanner asks
    with ``SKIP LOCKED`` and comes back at its next scan; the consumers wait. The lock order is
    always the case, then its referrals, so they cannot deadlock."""
    d = routing.tables.decision
    await session.execute(select(d.c.case_id).where(d.c.case_id == case_id).with_for_update())


async def escalate_overdue(
    routing: Routing, sessions: async_sessionmaker[AsyncSession], *, batch_size: int = 100
) -> int:
    """Escalate every pending referral past its deadline; returns how many were escalated.

    Each batch is one transaction that claims its referrals with ``FOR UPDATE SKIP LOCKED``,
    marks them escalated and writes their events to the outbox. A replica running the same
    scan skips the claimed rows, and once committed they are no longer pending: each referral
    is escalated, and its events written, exactly once, across replicas and restarts.
    """
    total = 0
    while True:
        count = await _escalate_batch(routing, sessions, batch_size)
        total += count
        if count < batch_size:
            return total


async def _escalate_batch(
    routing: Routing, sessions: async_sessionmaker[AsyncSession], batch_size: int
) -> int:
    t = routing.tables
    r, d = t.referral, t.decision
    async with sessions() as session, session.begin():
        now = routing.now()
        rows = (
            await session.execute(
                select(r.c.referral_id, r.c.case_id, r.c.programme, r.c.deadline_at)
                .add_columns(d.c.case_number, d.c.urgent)
                .join(d, d.c.case_id == r.c.case_id)
                .where(r.c.status == ReferralStatus.PENDING, r.c.deadline_at < now)
                .order_by(r.c.deadline_at)
                .limit(batch_size)
                # The case's row too (see lock_case): a case another transaction is changing
                # is skipped now and escalated at a later scan, never interleaved with it.
                .with_for_update(of=(r, d), skip_locked=True)
            )
        ).all()
        for row in rows:
            status = transition(ReferralStatus.PENDING, Action.ESCALATE)
            await session.execute(
                update(r)
                .where(r.c.referral_id == row.referral_id)
                .values(status=status.value, escalated_at=now, updated_at=now)
            )
            await _record(
                session,
                t,
                row._mapping,
                Action.ESCALATE,
                ReferralStatus.PENDING,
                status,
                by=SYSTEM,
                at=now,
            )
            escalated = routing_events.ReferralEscalated(
                case_id=row.case_id,
                case_number=row.case_number,
                referral_id=row.referral_id,
                programme=row.programme,
                urgent=row.urgent,
                deadline_at=row.deadline_at,
                escalated_at=now,
                allowed_actions=allowed_actions(status),
            )
            await routing.emit(
                session,
                [CASE_TOPIC, programme_topic_name(row.programme)],
                routing_events.REFERRAL_ESCALATED,
                escalated,
                case_id=row.case_id,
            )
            log.warning(
                "referral_escalated",
                case_id=row.case_id,
                referral_id=row.referral_id,
                programme=row.programme,
                urgent=row.urgent,
            )
    return len(rows)


async def _record(
    session: AsyncSession,
    t: RoutingTables,
    referral: Mapping[Any, Any],
    action: str,
    from_status: str | None,
    to_status: str,
    *,
    by: str,
    at: datetime,
    cause: Envelope | None = None,
    applied: bool = True,
    **details: Any,
) -> None:
    """One row of the referral's history (``details``: reason, outcome, suggested_next, note)."""
    row = _history(referral, action, from_status, to_status, by, at, cause, applied)
    await session.execute(insert(t.referral_status_change).values(**row, **details))


async def _record_created(
    session: AsyncSession,
    t: RoutingTables,
    referrals: list[dict[str, Any]],
    *,
    at: datetime,
    cause: Envelope,
) -> None:
    """The history's first row of each new referral, all in one statement."""
    if referrals:
        rows = [
            _history(r, "create", None, r["status"], SYSTEM, at, cause, True) for r in referrals
        ]
        await session.execute(insert(t.referral_status_change), rows)


def _history(
    referral: Mapping[Any, Any],
    action: str,
    from_status: str | None,
    to_status: str,
    by: str,
    at: datetime,
    cause: Envelope | None,
    applied: bool,
) -> dict[str, Any]:
    return {
        "referral_id": referral["referral_id"],
        "case_id": referral["case_id"],
        "programme": referral["programme"],
        "action": str(action),
        "from_status": None if from_status is None else str(from_status),
        "to_status": str(to_status),
        "applied": applied,
        "by": by,
        "cause_event_id": None if cause is None else cause.event_id,
        "at": at,
    }
