"""What routing's and food distribution's events do to intake's read model, decided for a
whole batch at once (ADR 26 applied to the read model).

Each event becomes an ``EventWrites``: its case, and per row it touches (``case_routing`` by
case id, ``referral`` by referral id, ``food_eligibility`` by case id) a ``Change`` (the row to
insert if missing, and per column "set" or keep: ``domain.fact_changes``). ``decide`` folds a
batch's events, in order, into one change per row, so that one upsert per table does what the
events applied one after the other would:

- events about a case intake does not hold are skipped (``skipped``);
- a later status, decision or handout wins, as one statement per event in order had it;
- an escalation only updates a referral that is there: it inserts nothing. If the referral is
  made earlier in the batch, or is in the read model already (``existing``, read for the
  referrals ``needs_existing`` names), it applies; otherwise it is dropped, as an ``UPDATE``
  that found no row was.

No I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tsunagu.intake.domain.fact_changes import Change, fold
from tsunagu.shared.contracts import food, routing
from tsunagu.shared.contracts.codes import ReferralRole, ReferralStatus

CASE_ROUTING = "case_routing"
REFERRAL = "referral"
FOOD_ELIGIBILITY = "food_eligibility"
#: The tables in the order a batch writes them (the lock order, with each table's key order).
TABLES = (CASE_ROUTING, REFERRAL, FOOD_ELIGIBILITY)

_ROUTING_DEFAULTS: dict[str, Any] = {"rerouted_at": None, "rerouted": None}
_REFERRAL_DEFAULTS: dict[str, Any] = {
    "deadline_at": None,
    "escalated": False,
    "last_reason": None,
    "last_outcome": None,
    "last_reason_code": None,
    "last_outcome_code": None,
    "suggested_next": None,
    "allowed_actions": None,
    "submitted_action": None,
    "submitted_at": None,
}
_FOOD_DEFAULTS: dict[str, Any] = {
    "basis": None,
    "granted_at": None,
    "parcel_type": None,
    "handed_out_at": None,
    "handed_out_by": None,
}


@dataclass(frozen=True)
class Write:
    """One row's change; ``update_only``: the event updates the row if it is there, and
    inserts nothing (its ``change.insert`` is used only once the row is known to be there)."""

    table: str
    key: str
    change: Change
    update_only: bool = False


@dataclass(frozen=True)
class EventWrites:
    """What one event does to the read model."""

    event_type: str
    case_id: str
    writes: tuple[Write, ...]


@dataclass
class Decided:
    """A batch's read model writes: per table, row key → the one change of that row."""

    rows: dict[str, dict[str, Change]] = field(default_factory=lambda: {t: {} for t in TABLES})
    #: The events about cases intake does not hold, in order.
    skipped: list[EventWrites] = field(default_factory=list)


# --- events → writes ------------------------------------------------------------------------


def _decision(
    data: routing.CaseRouted | routing.CaseRerouted,
    occurred_at: datetime,
    event_type: str,
    extra: dict[str, Any],
) -> EventWrites:
    values: dict[str, Any] = {
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
    if isinstance(data, routing.CaseRouted):
        # A first decision: when it was routed, and everything it says.
        routing_change = Change.of(_ROUTING_DEFAULTS, set_={"routed_at": occurred_at, **values})
    else:
        # Routed again: the first routing's time stays.
        routing_change = Change.of(_ROUTING_DEFAULTS, keep={"routed_at": occurred_at}, set_=values)
    writes = [Write(CASE_ROUTING, data.case_id, routing_change)]
    for referral in data.referrals:  # the same referral twice: the last wins, as in order
        change = Change.of(
            _REFERRAL_DEFAULTS,
            set_={
                "case_id": data.case_id,
                "programme": referral.programme.value,
                "role": referral.role.value,
                "status": referral.status.value,
                "reasons": [r.model_dump(mode="json") for r in referral.reasons],
                "deadline_at": referral.deadline_at,
                "allowed_actions": referral.allowed_actions,
                "updated_at": occurred_at,
            },
        )
        writes.append(Write(REFERRAL, referral.referral_id, change))
    return EventWrites(event_type, data.case_id, tuple(writes))


def case_routed(data: routing.CaseRouted, occurred_at: datetime) -> EventWrites:
    return _decision(data, occurred_at, routing.CASE_ROUTED, {})


def case_rerouted(data: routing.CaseRerouted, occurred_at: datetime) -> EventWrites:
    """A corrected case routed again: the referrals as they now stand, and what changed."""
    by_id = {r.referral_id: r.programme.value for r in data.referrals}
    extra = {
        "rerouted_at": occurred_at,
        "rerouted": {
            "added": [by_id[i] for i in data.added if i in by_id],
            "withdrawn": [by_id[i] for i in data.withdrawn if i in by_id],
        },
    }
    return _decision(data, occurred_at, routing.CASE_REROUTED, extra)


def referral_status_changed(
    data: routing.ReferralStatusChanged, occurred_at: datetime
) -> EventWrites:
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
        "updated_at": occurred_at,
    }
    change = Change.of(
        _REFERRAL_DEFAULTS,
        keep={
            "case_id": data.case_id,
            "programme": data.programme.value,
            "role": ReferralRole.MEMBER.value,  # case_routed, which carries the role, comes first
            "reasons": [],
        },
        set_=changes,
    )
    write = Write(REFERRAL, data.referral_id, change)
    return EventWrites(routing.REFERRAL_STATUS_CHANGED, data.case_id, (write,))


def referral_escalated(data: routing.ReferralEscalated, occurred_at: datetime) -> EventWrites:
    change = Change.of(
        _REFERRAL_DEFAULTS,
        keep={
            "case_id": data.case_id,
            "programme": data.programme.value,
            "role": ReferralRole.MEMBER.value,
            "status": ReferralStatus.PENDING.value,
            "reasons": [],
        },
        set_={
            "escalated": True,
            "deadline_at": data.deadline_at,
            "allowed_actions": data.allowed_actions,
            "updated_at": occurred_at,
        },
    )
    write = Write(REFERRAL, data.referral_id, change, update_only=True)
    return EventWrites(routing.REFERRAL_ESCALATED, data.case_id, (write,))


def eligibility_granted(data: food.EligibilityGranted, occurred_at: datetime) -> EventWrites:
    change = Change.of(
        _FOOD_DEFAULTS,
        keep={"household_id": data.household_id, "event_id": data.event_id},
        set_={"basis": data.basis, "granted_at": occurred_at},
    )
    write = Write(FOOD_ELIGIBILITY, data.case_id, change)
    return EventWrites(food.ELIGIBILITY_GRANTED, data.case_id, (write,))


def parcel_handed_out(data: food.ParcelHandedOut) -> EventWrites:
    change = Change.of(
        _FOOD_DEFAULTS,
        keep={"household_id": data.household_id, "event_id": data.event_id},
        set_={
            "parcel_type": data.parcel_type.value,
            "handed_out_at": data.handed_out_at,
            "handed_out_by": data.handed_out_by,
        },
    )
    write = Write(FOOD_ELIGIBILITY, data.case_id, change)
    return EventWrites(food.PARCEL_HANDED_OUT, data.case_id, (write,))


# --- a batch, decided -----------------------------------------------------------------------


def _writes(events: Iterable[EventWrites], known: Collection[str]) -> Iterable[Write]:
    for event in events:
        if event.case_id in known:
            yield from event.writes


def needs_existing(events: Sequence[EventWrites], known: Collection[str]) -> set[tuple[str, str]]:
    """The rows (table, key) whose first change in the batch only updates: whether they are
    there decides what the batch does to them."""
    seen: set[tuple[str, str]] = set()
    needed: set[tuple[str, str]] = set()
    for write in _writes(events, known):
        row = (write.table, write.key)
        if row not in seen and write.update_only:
            needed.add(row)
        seen.add(row)
    return needed


def decide(
    events: Sequence[EventWrites],
    known: Collection[str],
    existing: Collection[tuple[str, str]] = (),
) -> Decided:
    """Fold a batch's events, in order, into one change per row. ``known``: the batch's cases
    that intake holds; ``existing``: which of the rows ``needs_existing`` named are there."""
    decided = Decided()
    for event in events:
        if event.case_id not in known:
            decided.skipped.append(event)
            continue
        for write in event.writes:
            rows = decided.rows[write.table]
            opens = write.key not in rows
            if write.update_only and opens and (write.table, write.key) not in existing:
                continue  # nothing to update: an update that finds no row
            fold(rows, write.key, write.change)
    return decided
