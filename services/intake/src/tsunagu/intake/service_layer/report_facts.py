"""Anonymous report facts, kept from the events of intake, routing and food distribution.

A consumer of its own (group ``<intake group>-reports``) reads ``intake.case.v1``,
``routing.case.v1`` and ``food.v1`` and keeps one row per case, referral and handout with codes,
flags and times only, and one per household link the food desk made. Residents and households
appear as pseudonyms (random, per subject); when a resident is erased, ``forget_resident``
deletes the pseudonym's key and unlinks the rows from the case, referral and handout ids, so
the facts can no longer be tied to anyone and every count stays as it was. A household link
holds two household pseudonyms and nothing else, so it is left as it is.

Events arrive in any order across topics (routing may be read before intake's own
``case_created``): each handler writes only its own columns, creating the case's fact row if it
is not there yet. Within a topic a case's events come in order (they share a partition), and a
batch writes what they did as if applied one after the other.

The food desk's household links (food's ``household_linked``) are kept as facts of their own,
between two household pseudonyms, and applied when a report counts (``domain.reports``), never
to the parcel rows: a link is keyed by the case at the desk and a parcel by its own case, so
neither order nor partition puts one before the other, and a parcel of the moved household told
after the link counts for the joined household as one told before it does (ADR 33).

One consumer reads the three topics, so that one transaction at a time writes a process's facts,
and every transaction takes the rows' locks in one order (below): the three consumers it
replaced locked the same cases' rows in different orders and deadlocked under load.

An erasure rewrites the facts in intake's own transaction, not through an event read in order,
so a batch and an erasure of the same case take turns on the case's lock (``case_locks``)
before anything else: the batch before it looks for tombstones, the erasure before it reads the
facts (ADR 26).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.domain.fact_changes import Change, fold
from tsunagu.intake.service_layer.batch_upserts import upsert_rows, upsert_statement
from tsunagu.intake.service_layer.case_locks import lock_cases
from tsunagu.intake.service_layer.gathered import Gathered
from tsunagu.shared.contracts import food, intake, routing
from tsunagu.shared.contracts.codes import ReferralStatus
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import parse

#: What a reason or outcome must look like to be kept as a code; anything else is "other".
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
OTHER = "other"


def as_code(value: str | None) -> str | None:
    """A reason or outcome as a code; free text (which may name someone) becomes ``other``."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    return value if _CODE.match(value) else OTHER


async def pseudonyms(
    session: AsyncSession, subjects: list[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The pseudonyms of ``(kind, subject_id)`` pairs, made on first use (concurrent first
    uses agree), in one statement: a pseudonym already made is kept and returned (the no-op
    update returns it). Rows are locked in key order."""
    p = tables.report_pseudonym
    # An executemany of one cached statement, written as one multi-row insert in the order
    # given (``.values([...])`` would be compiled afresh at every call).
    found = await session.execute(
        insert(p)
        .on_conflict_do_update(
            index_elements=[p.c.kind, p.c.subject_id], set_={"pseudonym": p.c.pseudonym}
        )
        .returning(p.c.kind, p.c.subject_id, p.c.pseudonym),
        [
            {"kind": kind, "subject_id": subject_id, "pseudonym": str(uuid.uuid4())}
            for kind, subject_id in sorted(set(subjects))
        ],
    )
    return {(row.kind, row.subject_id): str(row.pseudonym) for row in found}


# --- a case's lock (``case_locks``): a batch and an erasure take turns ---------------------------
#
# The shared consumer looks a batch's tombstones up once (ADR 22). An erasure commits the
# cases' tombstones with its changes to the facts, so a batch that looked before that commit
# and then waited on the erasure's row locks wrote afterwards: its upserts, keyed by the ids
# the erasure had just taken off the rows, found no row and inserted the ids again. So each
# case has a lock, which both take first: a batch shares it, before its tombstone
# lookup (the consumer's ``lock``); an erasure takes it alone, before it reads any fact
# (``forget_resident``). Whichever comes second waits for the other's commit and then, in read
# committed, sees it: a batch sees the tombstones and applies none of those cases' events; an
# erasure sees the batch's rows and unlinks them. Batches share the lock, so they wait for each
# other no more than before. The locks are advisory, each transaction's taken in one
# statement in key order before any fact row's lock, so the lock order stays one (ADR 26).


# --- a batch's facts, written together ------------------------------------------------------
#
# The handlers do not write: each folds what its event does into the batch's ``_Facts`` (one
# ``Change`` per row, ``domain.fact_changes``), and ``finish`` writes them once the batch's
# handlers are done, with one statement per table, in one lock order: pseudonyms, then cases,
# then referrals, then handouts, then household links, each sorted by its key (after the cases'
# report locks, taken before the batch's tombstones were read). Two transactions writing facts
# of the same cases (a second intake, an erasure) therefore wait for each other and never
# deadlock.
# A record applied on its own (no ``prepare``) writes its facts at once, the same way.


@dataclass
class _Facts:
    """What a batch's handlers left to write."""

    subjects: set[tuple[str, str]] = field(default_factory=set)
    cases: dict[str, Change] = field(default_factory=dict)
    referrals: dict[str, Change] = field(default_factory=dict)
    #: handout id → its row; the first one wins, as ``ON CONFLICT DO NOTHING`` would have it
    parcels: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (moved, joined) household ids the desk linked; one row each, told once or twice
    links: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class _Pseudonym:
    """A pseudonym column's value before the batch's pseudonyms are made."""

    kind: str
    subject_id: str


@dataclass(frozen=True)
class _FactOf:
    """A ``fact_id`` column's value: the fact row of this case, once written."""

    case_id: str


_CASE_DEFAULTS: dict[str, Any] = {
    "event_id": None,
    "resident_key": None,
    "household_key": None,
    "concerns": [],
    "urgent": False,
    "compound": False,
    "taken_at": None,
}
_REFERRAL_DEFAULTS: dict[str, Any] = {
    "routed_at": None,
    "accepted_at": None,
    "escalated": False,
    "decline_reason": None,
    "outcome": None,
}


def _case(facts: _Facts, case_id: str, **values: Any) -> None:
    """The case's fact row (made if missing) with ``values`` set."""
    fold(facts.cases, case_id, Change.of(_CASE_DEFAULTS, set_=values))


def _referral(facts: _Facts, case_id: str, referral_id: str, change: Change) -> None:
    _case(facts, case_id)
    fold(facts.referrals, referral_id, change)


def _urgent(data: intake.CaseFacts) -> bool:
    return data.urgent.no_food_today or data.urgent.eviction_within_7_days


async def on_case_created(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, intake.CaseCreated)

    def gather(facts: _Facts) -> None:
        facts.subjects |= {("resident", data.resident_id), ("household", data.household_id)}
        _case(
            facts,
            data.case_id,
            event_id=data.event_id,
            resident_key=_Pseudonym("resident", data.resident_id),
            household_key=_Pseudonym("household", data.household_id),
            concerns=[c.value for c in data.facts.concerns],
            urgent=_urgent(data.facts),
            taken_at=data.created_at,
        )

    await _apply(session, gather)


async def on_case_updated(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, intake.CaseUpdated)
    concerns = [c.value for c in data.facts.concerns]
    await _apply(
        session,
        lambda facts: _case(facts, data.case_id, concerns=concerns, urgent=_urgent(data.facts)),
    )


def _routed(data: routing.CaseRouted | routing.CaseRerouted, facts: _Facts) -> None:
    # Routing may find a case urgent that intake's flags did not say (never the reverse).
    urgent = {"urgent": True} if data.urgent else {}
    _case(facts, data.case_id, compound=data.compound, **urgent)


async def on_case_routed(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.CaseRouted)

    def gather(facts: _Facts) -> None:
        _routed(data, facts)
        for referral in data.referrals:
            # A status change read first has the newer status: keep it, add when it was routed.
            change = Change.of(
                _REFERRAL_DEFAULTS,
                keep={"status": referral.status.value},
                set_={
                    "fact_id": _FactOf(data.case_id),
                    "programme": referral.programme.value,
                    "routed_at": envelope.occurred_at,
                },
            )
            _referral(facts, data.case_id, referral.referral_id, change)

    await _apply(session, gather)


async def on_case_rerouted(session: AsyncSession, envelope: Envelope) -> None:
    """A corrected case routed again: every referral as it now stands, some added or withdrawn."""
    data = parse(envelope, routing.CaseRerouted)

    def gather(facts: _Facts) -> None:
        _routed(data, facts)
        for referral in data.referrals:
            change = Change.of(
                _REFERRAL_DEFAULTS,
                keep={"fact_id": _FactOf(data.case_id)},
                set_={"programme": referral.programme.value, "status": referral.status.value},
                first={"routed_at": envelope.occurred_at},
            )
            _referral(facts, data.case_id, referral.referral_id, change)

    await _apply(session, gather)


async def on_referral_status_changed(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.ReferralStatusChanged)
    changes: dict[str, Any] = {"status": data.status.value}
    first: dict[str, Any] = {}
    if data.status is ReferralStatus.ACCEPTED:
        # The first acceptance counts for the time to acceptance.
        first["accepted_at"] = envelope.occurred_at
    if data.status is ReferralStatus.DECLINED:
        changes["decline_reason"] = as_code(data.reason)
    if data.status is ReferralStatus.CLOSED:
        changes["outcome"] = as_code(data.outcome)
    if data.status is ReferralStatus.ESCALATED:
        changes["escalated"] = True
    change = Change.of(
        _REFERRAL_DEFAULTS,
        keep={"fact_id": _FactOf(data.case_id), "programme": data.programme.value},
        set_=changes,
        first=first,
    )
    await _apply(session, lambda facts: _referral(facts, data.case_id, data.referral_id, change))


async def on_referral_escalated(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.ReferralEscalated)
    change = Change.of(
        _REFERRAL_DEFAULTS,
        keep={
            "fact_id": _FactOf(data.case_id),
            "programme": data.programme.value,
            "status": ReferralStatus.PENDING.value,
        },
        set_={"escalated": True},
    )
    await _apply(session, lambda facts: _referral(facts, data.case_id, data.referral_id, change))


async def on_parcel_handed_out(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, food.ParcelHandedOut)

    def gather(facts: _Facts) -> None:
        facts.subjects.add(("household", data.household_id))
        _case(facts, data.case_id)
        facts.parcels.setdefault(
            data.handout_id,
            {
                "handout_id": data.handout_id,
                "fact_id": _FactOf(data.case_id),
                "event_id": data.event_id,
                "household_key": _Pseudonym("household", data.household_id),
                "parcel_type": data.parcel_type.value,
                "handed_out_at": data.handed_out_at,
            },
        )

    await _apply(session, gather)


async def on_household_linked(session: AsyncSession, envelope: Envelope) -> None:
    """The desk found two households to be one: a fact between their pseudonyms, which reports
    apply when they count (the parcels keep the household they were handed out to)."""
    data = parse(envelope, food.HouseholdLinked)

    def gather(facts: _Facts) -> None:
        facts.subjects |= {
            ("household", data.moved_household_id),
            ("household", data.joined_household_id),
        }
        facts.links.add((data.moved_household_id, data.joined_household_id))

    await _apply(session, gather)


async def _write(session: AsyncSession, facts: _Facts) -> None:
    """Write a batch's facts: one statement per table, each table's rows in key order
    (pseudonyms, cases, referrals, handouts, household links)."""
    keys = await pseudonyms(session, list(facts.subjects)) if facts.subjects else {}
    if facts.cases:
        await _write_case_facts(session, facts, keys)
    if facts.links:
        k = tables.report_household_link
        rows = sorted(
            {
                (keys[("household", moved)], keys[("household", joined)])
                for moved, joined in facts.links
            }
        )
        await session.execute(
            insert(k).on_conflict_do_nothing(index_elements=[k.c.moved_key, k.c.joined_key]),
            [{"moved_key": moved, "joined_key": joined} for moved, joined in rows],
        )


async def _write_case_facts(
    session: AsyncSession, facts: _Facts, keys: dict[tuple[str, str], str]
) -> None:
    """The batch's case, referral and handout rows."""
    fact_ids = await _upsert_cases(session, facts.cases, keys)

    def resolved(value: Any) -> Any:
        if isinstance(value, _Pseudonym):
            return keys[(value.kind, value.subject_id)]
        if isinstance(value, _FactOf):
            return fact_ids[value.case_id]
        return value

    if facts.referrals:
        await upsert_rows(
            session,
            _REFERRALS,
            {
                referral_id: {column: resolved(v) for column, v in change.insert.items()}
                for referral_id, change in facts.referrals.items()
            },
            {referral_id: change.ops for referral_id, change in facts.referrals.items()},
        )
    if facts.parcels:
        p = tables.report_parcel
        await session.execute(
            insert(p).on_conflict_do_nothing(index_elements=[p.c.handout_id]),
            [
                {column: resolved(v) for column, v in facts.parcels[handout_id].items()}
                for handout_id in sorted(facts.parcels)
            ],
        )


async def _upsert_cases(
    session: AsyncSession, cases: dict[str, Change], keys: dict[tuple[str, str], str]
) -> dict[str, str]:
    """Upsert the batch's case fact rows; returns each case's fact id."""

    def value(v: Any) -> Any:
        return keys[(v.kind, v.subject_id)] if isinstance(v, _Pseudonym) else v

    rows = {
        case_id: {"fact_id": str(uuid.uuid4())}
        | {column: value(v) for column, v in change.insert.items()}
        for case_id, change in cases.items()
    }
    found = await upsert_rows(
        session, _CASES, rows, {case_id: change.ops for case_id, change in cases.items()}
    )
    return {row.case_id: str(row.fact_id) for row in found}


_CASES = upsert_statement(
    tables.report_case,
    "case_id",
    {
        "case_id": "text",
        "fact_id": "text",
        "event_id": "text",
        "resident_key": "text",
        "household_key": "text",
        "concerns": "jsonb",
        "urgent": "boolean",
        "compound": "boolean",
        "taken_at": "timestamptz",
    },
    ("event_id", "resident_key", "household_key", "concerns", "urgent", "compound", "taken_at"),
    "case_id, fact_id",
)
_REFERRALS = upsert_statement(
    tables.report_referral,
    "referral_id",
    {
        "referral_id": "text",
        "fact_id": "text",
        "programme": "text",
        "status": "text",
        "routed_at": "timestamptz",
        "accepted_at": "timestamptz",
        "escalated": "boolean",
        "decline_reason": "text",
        "outcome": "text",
    },
    (
        "fact_id",
        "programme",
        "status",
        "routed_at",
        "accepted_at",
        "escalated",
        "decline_reason",
        "outcome",
    ),
    "referral_id",
)


async def forget_resident(session: AsyncSession, resident_id: str, case_ids: list[str]) -> int:
    """Unlink a resident's facts from everything that could name them; returns the cases.

    For erasure, with the resident's cases, in the transaction that keeps their tombstones:
    the pseudonym's key goes, the fact rows lose their case id, and referral and handout rows
    get fresh random ids. Every count in every report stays the same. Events about the cases
    that arrive afterwards are recorded and not applied (the tombstones); a batch of them that
    began earlier waits on the cases' report locks, taken here first (alone), and then sees
    the tombstones; a batch that holds them has committed before the facts are read here.
    The rows of a case that no pseudonym links yet (routing's or food's events read before
    the case's own ``case_created``) are found by the case id.
    """
    await lock_cases(session, case_ids, shared=False)
    p = tables.report_pseudonym
    key = await session.scalar(
        delete(p)
        .where(p.c.kind == "resident", p.c.subject_id == resident_id)
        .returning(p.c.pseudonym)
    )
    c = tables.report_case
    mine = c.c.case_id.in_(case_ids)
    if key is not None:
        mine = or_(c.c.resident_key == key, mine)
    # Locked in the consumer's order (the cases' report locks, above; then the pseudonym, the
    # cases by case id, the referrals and handouts by id), so an erasure and a batch of facts
    # wait for each other, never deadlock.
    facts = list(
        await session.scalars(
            select(c.c.fact_id).where(mine).order_by(c.c.case_id).with_for_update()
        )
    )
    if not facts:
        return 0
    await session.execute(update(c).where(c.c.fact_id.in_(facts)).values(case_id=None))
    for table, column in (
        (tables.report_referral, tables.report_referral.c.referral_id),
        (tables.report_parcel, tables.report_parcel.c.handout_id),
    ):
        ids = list(await session.scalars(select(column).where(table.c.fact_id.in_(facts))))
        for old in sorted(ids):
            await session.execute(
                update(table).where(column == old).values({column.name: str(uuid.uuid4())})
            )
    return len(facts)


CASE_HANDLERS = {
    intake.CASE_CREATED: on_case_created,
    intake.CASE_UPDATED: on_case_updated,
}
ROUTING_HANDLERS = {
    routing.CASE_ROUTED: on_case_routed,
    routing.CASE_REROUTED: on_case_rerouted,
    routing.REFERRAL_STATUS_CHANGED: on_referral_status_changed,
    routing.REFERRAL_ESCALATED: on_referral_escalated,
}
FOOD_HANDLERS = {
    food.PARCEL_HANDED_OUT: on_parcel_handed_out,
    food.HOUSEHOLD_LINKED: on_household_linked,
}
#: The one consumer of the three topics (event types do not repeat across them).
HANDLERS = CASE_HANDLERS | ROUTING_HANDLERS | FOOD_HANDLERS


# The batch's facts, gathered in its transaction and written at its end (ADR 26).
_GATHERED: Gathered[_Facts] = Gathered("report_facts", _Facts, _write)
prepare = _GATHERED.prepare
finish = _GATHERED.finish
_apply = _GATHERED.apply
