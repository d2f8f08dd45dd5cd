"""A batch of routing's and food's events, decided in memory (``domain.read_model_changes``),
leaves the read model as the statements the handlers used to run one event at a time did.

``one_by_one`` below is the reference: the old handlers' statements (an upsert per decision,
referral, status change, eligibility and handout, an ``UPDATE`` per escalation, events about
unknown cases skipped), written out over a dict of rows. ``as_upserts`` applies what
``decide`` gives the way the one upsert per table does.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tsunagu.intake.domain import read_model_changes as changes
from tsunagu.intake.domain.fact_changes import Change
from tsunagu.intake.domain.read_model_changes import (
    CASE_ROUTING,
    FOOD_ELIGIBILITY,
    REFERRAL,
    TABLES,
    EventWrites,
    decide,
    needs_existing,
)
from tsunagu.shared.contracts import food, routing
from tsunagu.shared.contracts.codes import ParcelType, Programme, ReferralRole, ReferralStatus

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
KNOWN = {"c1", "c2"}
Db = dict[str, dict[str, dict[str, Any]]]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def referral(referral_id: str, status: ReferralStatus, deadline: int = 60) -> dict[str, Any]:
    return {
        "referral_id": referral_id,
        "programme": "welfare_fund" if referral_id.endswith("d") else "life_independence",
        "role": "lead" if referral_id.endswith("d") else "member",
        "status": status.value,
        "deadline_at": at(deadline),
        "allowed_actions": ["accept", "decline"],
    }


def routed(case_id: str, minute: int, *referrals: dict[str, Any]) -> tuple[Any, datetime]:
    data = routing.CaseRouted(
        case_id=case_id,
        case_number="A-1",
        event_id="e1",
        rule_version=f"v{minute}",
        lead=Programme.WELFARE_FUND,
        compound=len(referrals) > 1,
        urgent=False,
        food_parcel_eligible=True,
        referrals=list(referrals),
        awaiting_consent=[Programme.LIFE_INDEPENDENCE] if minute % 2 else [],
    )
    return data, at(minute)


def rerouted(case_id: str, minute: int, *referrals: dict[str, Any]) -> tuple[Any, datetime]:
    data = routing.CaseRerouted(
        case_id=case_id,
        case_number="A-1",
        event_id="e1",
        rule_version=f"v{minute}",
        lead=Programme.LIFE_INDEPENDENCE,
        compound=True,
        urgent=True,
        food_parcel_eligible=False,
        referrals=list(referrals),
        added=[r["referral_id"] for r in referrals[:1]],
        withdrawn=["gone"],
    )
    return data, at(minute)


def status(
    case_id: str, referral_id: str, new: ReferralStatus, minute: int
) -> tuple[Any, datetime]:
    data = routing.ReferralStatusChanged(
        case_id=case_id,
        case_number="A-1",
        referral_id=referral_id,
        programme=Programme.WELFARE_FUND,
        status=new,
        previous_status=ReferralStatus.PENDING,
        by="staff",
        reason="sealed?" if new is ReferralStatus.DECLINED else None,
        outcome="done" if new is ReferralStatus.CLOSED else None,
        suggested_next=Programme.LIFE_INDEPENDENCE if new is ReferralStatus.DECLINED else None,
        allowed_actions=["close"] if new is ReferralStatus.ACCEPTED else None,
    )
    return data, at(minute)


def escalated(case_id: str, referral_id: str, minute: int) -> tuple[Any, datetime]:
    data = routing.ReferralEscalated(
        case_id=case_id,
        case_number="A-1",
        referral_id=referral_id,
        programme=Programme.WELFARE_FUND,
        urgent=True,
        deadline_at=at(minute + 120),
        escalated_at=at(minute),
        allowed_actions=["accept"],
    )
    return data, at(minute)


def granted(case_id: str, minute: int) -> tuple[Any, datetime]:
    data = food.EligibilityGranted(
        case_id=case_id, household_id="h1", event_id="ev1", basis="manual", reason="r"
    )
    return data, at(minute)


def handed_out(case_id: str, minute: int) -> tuple[Any, datetime]:
    data = food.ParcelHandedOut(
        handout_id=f"p{minute}",
        case_id=case_id,
        household_id="h2",
        event_id="ev2",
        parcel_type=ParcelType.INFANT,
        handed_out_by="desk",
        handed_out_at=at(minute + 1),
    )
    return data, at(minute)


def writes(event: tuple[Any, datetime]) -> EventWrites:
    data, occurred_at = event
    if isinstance(data, routing.CaseRouted):
        return changes.case_routed(data, occurred_at)
    if isinstance(data, routing.CaseRerouted):
        return changes.case_rerouted(data, occurred_at)
    if isinstance(data, routing.ReferralStatusChanged):
        return changes.referral_status_changed(data, occurred_at)
    if isinstance(data, routing.ReferralEscalated):
        return changes.referral_escalated(data, occurred_at)
    if isinstance(data, food.EligibilityGranted):
        return changes.eligibility_granted(data, occurred_at)
    return changes.parcel_handed_out(data)


# --- the reference: the old handlers' statements, one event at a time -----------------------


def _upsert(
    rows: dict[str, dict[str, Any]], key: str, insert: dict[str, Any], update: dict[str, Any]
) -> None:
    if key in rows:
        rows[key].update(update)
    else:
        rows[key] = insert


_REFERRAL_COLUMNS_NULL = {
    "deadline_at": None,
    "escalated": False,  # the column's server default
    "last_reason": None,
    "last_outcome": None,
    "last_reason_code": None,
    "last_outcome_code": None,
    "suggested_next": None,
    "allowed_actions": None,
    "submitted_action": None,
    "submitted_at": None,
}


def one_by_one(db: Db, event: tuple[Any, datetime]) -> None:
    data, occurred_at = event
    if data.case_id not in KNOWN:
        return
    if isinstance(data, routing.CaseRouted | routing.CaseRerouted):
        values = {
            "rule_version": data.rule_version,
            "lead": data.lead.value,
            "coordinator": None,
            "compound": data.compound,
            "urgent": data.urgent,
            "food_parcel_eligible": data.food_parcel_eligible,
            "awaiting_consent": [p.value for p in data.awaiting_consent],
            "external": [],
        }
        if isinstance(data, routing.CaseRerouted):
            by_id = {r.referral_id: r.programme.value for r in data.referrals}
            values["rerouted_at"] = occurred_at
            values["rerouted"] = {
                "added": [by_id[i] for i in data.added if i in by_id],
                "withdrawn": [by_id[i] for i in data.withdrawn if i in by_id],
            }
        inserted = {"routed_at": occurred_at, **values}
        update = inserted if isinstance(data, routing.CaseRouted) else values
        unset = {"rerouted_at": None, "rerouted": None}
        _upsert(db[CASE_ROUTING], data.case_id, {**unset, **inserted}, dict(update))
        once = {r.referral_id: r for r in data.referrals}
        for r in once.values():
            row = {
                "case_id": data.case_id,
                "programme": r.programme.value,
                "role": r.role.value,
                "status": r.status.value,
                "reasons": [],
                "deadline_at": r.deadline_at,
                "allowed_actions": r.allowed_actions,
                "updated_at": occurred_at,
            }
            _upsert(db[REFERRAL], r.referral_id, {**_REFERRAL_COLUMNS_NULL, **row}, dict(row))
    elif isinstance(data, routing.ReferralStatusChanged):
        change = {
            "status": data.status.value,
            "escalated": data.status is ReferralStatus.ESCALATED,
            "last_reason": data.reason_sealed or data.reason,
            "last_outcome": data.outcome_sealed or data.outcome,
            "last_reason_code": None,
            "last_outcome_code": None,
            "suggested_next": None if data.suggested_next is None else data.suggested_next.value,
            "allowed_actions": data.allowed_actions,
            "submitted_action": None,
            "submitted_at": None,
            "updated_at": occurred_at,
        }
        insert = {
            **_REFERRAL_COLUMNS_NULL,
            "case_id": data.case_id,
            "programme": data.programme.value,
            "role": ReferralRole.MEMBER.value,
            "reasons": [],
            **change,
        }
        _upsert(db[REFERRAL], data.referral_id, insert, change)
    elif isinstance(data, routing.ReferralEscalated):
        if data.referral_id in db[REFERRAL]:
            db[REFERRAL][data.referral_id].update(
                escalated=True,
                deadline_at=data.deadline_at,
                allowed_actions=data.allowed_actions,
                updated_at=occurred_at,
            )
    elif isinstance(data, food.EligibilityGranted):
        values = {"basis": data.basis, "granted_at": occurred_at}
        insert = {
            "household_id": data.household_id,
            "event_id": data.event_id,
            "parcel_type": None,
            "handed_out_at": None,
            "handed_out_by": None,
            **values,
        }
        _upsert(db[FOOD_ELIGIBILITY], data.case_id, insert, values)
    else:
        values = {
            "parcel_type": data.parcel_type.value,
            "handed_out_at": data.handed_out_at,
            "handed_out_by": data.handed_out_by,
        }
        insert = {
            "household_id": data.household_id,
            "event_id": data.event_id,
            "basis": None,
            "granted_at": None,
            **values,
        }
        _upsert(db[FOOD_ELIGIBILITY], data.case_id, insert, values)


def as_upserts(db: Db, rows: dict[str, dict[str, Change]]) -> None:
    """One upsert per table: a missing row is inserted, an existing one follows the ops."""
    for table in TABLES:
        for key, change in rows[table].items():
            if key not in db[table]:
                db[table][key] = dict(change.insert)
                continue
            for column, op in change.ops.items():
                assert op == "s", "the read model only sets"
                db[table][key][column] = change.insert[column]


def copy(db: Db) -> Db:
    return {table: {key: dict(row) for key, row in rows.items()} for table, rows in db.items()}


def batched(db: Db, events: list[tuple[Any, datetime]]) -> Db:
    result = copy(db)
    batch = [writes(e) for e in events]
    needed = needs_existing(batch, KNOWN)
    existing = {(table, key) for table, key in needed if key in db[table]}
    as_upserts(result, decide(batch, KNOWN, existing).rows)
    return result


def sequential(db: Db, events: list[tuple[Any, datetime]]) -> Db:
    result = copy(db)
    for event in events:
        one_by_one(result, event)
    return result


# --- the batches compared -------------------------------------------------------------------

R1 = referral("r1d", ReferralStatus.PENDING)
R2 = referral("r2h", ReferralStatus.PENDING)
POOL = [
    routed("c1", 1, R1, R2),
    rerouted("c1", 2, referral("r1d", ReferralStatus.WITHDRAWN, 90)),
    status("c1", "r1d", ReferralStatus.ACCEPTED, 3),
    status("c1", "r1d", ReferralStatus.CLOSED, 4),
    status("c1", "r2h", ReferralStatus.DECLINED, 5),
    escalated("c1", "r1d", 6),
    escalated("c1", "r2h", 7),
    routed("zz", 8, referral("rzd", ReferralStatus.PENDING)),  # a case intake does not hold
    escalated("zz", "r1d", 9),
    granted("c2", 10),
    handed_out("c2", 11),
    granted("zz", 12),
]


def empty() -> Db:
    return {table: {} for table in TABLES}


def with_rows() -> Db:
    db = empty()
    sequential_db = sequential(db, [routed("c1", 0, R1, R2), granted("c2", 0)])
    sequential_db[REFERRAL]["r1d"]["submitted_action"] = "accept"  # staff's, unconfirmed
    sequential_db[REFERRAL]["r1d"]["submitted_at"] = at(0)
    return sequential_db


def with_one_referral() -> Db:
    db = empty()
    db[REFERRAL]["r2h"] = sequential(db, [routed("c1", 0, R2)])[REFERRAL]["r2h"]
    return db


@pytest.mark.parametrize("start", [empty, with_rows, with_one_referral])
@pytest.mark.parametrize("length", [1, 2, 3])
def test_a_decided_batch_leaves_what_its_events_one_by_one_leave(start: Any, length: int) -> None:
    db = start()
    for events in itertools.product(POOL, repeat=length):
        assert batched(db, list(events)) == sequential(db, list(events)), events


def test_a_longer_batch_in_order_and_reversed() -> None:
    for start in (empty, with_rows, with_one_referral):
        db = start()
        for events in (POOL, POOL[::-1], POOL + POOL):
            assert batched(db, events) == sequential(db, events)


def test_the_later_status_wins_and_staffs_unconfirmed_response_is_cleared() -> None:
    db = with_rows()
    events = [
        status("c1", "r1d", ReferralStatus.ACCEPTED, 3),
        status("c1", "r1d", ReferralStatus.CLOSED, 4),
    ]
    after = batched(db, events)["referral"]["r1d"]
    assert after["status"] == "closed"
    assert after["last_outcome"] == "done"
    assert after["submitted_action"] is None and after["updated_at"] == at(4)


def test_a_routing_again_keeps_when_the_case_was_first_routed() -> None:
    after = batched(empty(), [routed("c1", 1, R1), rerouted("c1", 2, R1)])
    row = after[CASE_ROUTING]["c1"]
    assert row["routed_at"] == at(1) and row["rerouted_at"] == at(2)
    assert row["rerouted"] == {"added": ["welfare_fund"], "withdrawn": []}


def test_an_escalation_updates_a_referral_that_is_there_and_makes_none() -> None:
    assert batched(empty(), [escalated("c1", "r1d", 6)])[REFERRAL] == {}
    # made earlier in the batch, or already there: escalated
    made = batched(empty(), [routed("c1", 1, R1), escalated("c1", "r1d", 6)])
    assert made[REFERRAL]["r1d"]["escalated"] is True
    there = batched(with_rows(), [escalated("c1", "r1d", 6)])[REFERRAL]["r1d"]
    assert there["escalated"] is True and there["deadline_at"] == at(126)
    assert there["submitted_action"] == "accept"  # not the escalation's to clear
    # escalated before the referral is made in the same batch: the escalation finds nothing
    later = batched(
        empty(), [escalated("c1", "r1d", 6), status("c1", "r1d", ReferralStatus.ACCEPTED, 7)]
    )
    assert later[REFERRAL]["r1d"]["escalated"] is False
    assert later[REFERRAL]["r1d"]["deadline_at"] is None


def test_only_escalations_that_open_a_row_ask_whether_it_is_there() -> None:
    batch = [
        writes(routed("c1", 1, R1)),
        writes(escalated("c1", "r1d", 2)),
        writes(escalated("c1", "r2h", 3)),
        writes(escalated("zz", "rzd", 4)),
    ]
    assert needs_existing(batch, KNOWN) == {(REFERRAL, "r2h")}


def test_events_about_unknown_cases_are_skipped_and_named() -> None:
    batch = [writes(routed("zz", 1, R1)), writes(granted("c2", 2)), writes(granted("zz", 3))]
    decided = decide(batch, KNOWN)
    assert [(e.event_type, e.case_id) for e in decided.skipped] == [
        (routing.CASE_ROUTED, "zz"),
        (food.ELIGIBILITY_GRANTED, "zz"),
    ]
    assert decided.rows[REFERRAL] == {} and decided.rows[CASE_ROUTING] == {}
    assert list(decided.rows[FOOD_ELIGIBILITY]) == ["c2"]


def test_a_batch_writes_each_row_once() -> None:
    decided = decide([writes(e) for e in POOL + POOL], KNOWN, {(REFERRAL, "r1d")})
    assert sorted(decided.rows[REFERRAL]) == ["r1d", "r2h"]
    assert list(decided.rows[CASE_ROUTING]) == ["c1"]


def test_every_change_of_a_table_names_every_column() -> None:
    columns: dict[str, set[frozenset[str]]] = {table: set() for table in TABLES}
    for event in POOL:
        for write in writes(event).writes:
            columns[write.table].add(frozenset(write.change.insert))
    assert all(len(shapes) == 1 for shapes in columns.values()), columns
