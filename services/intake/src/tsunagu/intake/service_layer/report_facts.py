"""Anonymous report facts, kept from the events of intake, routing and food distribution.

A consumer of its own (group ``<intake group>-reports``) reads ``intake.case.v1``,
``routing.case.v1`` and ``food.v1`` and keeps one row per case, referral and handout with codes,
flags and times only. Residents and households appear as pseudonyms (random, per subject); when a
resident is erased, ``forget_resident`` deletes the pseudonym's key and unlinks the rows from the
case, referral and handout ids, so the facts can no longer be tied to anyone and every count
stays as it was.

Events arrive in any order across topics (routing may be read before intake's own
``case_created``): each handler writes only its own columns, creating the case's fact row if it
is not there yet.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
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


async def pseudonym(session: AsyncSession, kind: str, subject_id: str) -> str:
    """The subject's pseudonym, made on first use (concurrent first uses agree)."""
    return (await pseudonyms(session, [(kind, subject_id)]))[(kind, subject_id)]


async def pseudonyms(
    session: AsyncSession, subjects: list[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The pseudonyms of ``(kind, subject_id)`` pairs, made on first use (concurrent first
    uses agree), in one statement: a pseudonym already made is kept and returned (the no-op
    update returns it). Rows are locked in the order given."""
    p = tables.report_pseudonym
    statement = insert(p).values(
        [
            {"kind": kind, "subject_id": subject_id, "pseudonym": str(uuid.uuid4())}
            for kind, subject_id in dict.fromkeys(subjects)
        ]
    )
    found = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[p.c.kind, p.c.subject_id], set_={"pseudonym": p.c.pseudonym}
        ).returning(p.c.kind, p.c.subject_id, p.c.pseudonym)
    )
    return {(row.kind, row.subject_id): str(row.pseudonym) for row in found}


async def _fact(session: AsyncSession, case_id: str, **values: Any) -> str:
    """The case's fact row (created if missing) with ``values`` set; returns its fact id."""
    c = tables.report_case
    row = {"concerns": [], **values}
    statement = insert(c).values(fact_id=str(uuid.uuid4()), case_id=case_id, **row)
    statement = (
        statement.on_conflict_do_update(index_elements=[c.c.case_id], set_=values)
        if values
        else statement.on_conflict_do_update(
            index_elements=[c.c.case_id], set_={"case_id": statement.excluded.case_id}
        )
    )
    fact_id = await session.scalar(statement.returning(c.c.fact_id))
    assert fact_id is not None
    return str(fact_id)


def _once(referrals: list[Any]) -> list[Any]:
    """Each referral once (the last wins, as one statement per referral would have it): one
    multi-row upsert may not touch a row twice."""
    return list({referral.referral_id: referral for referral in referrals}.values())


def _urgent(facts: intake.CaseFacts) -> bool:
    return facts.urgent.no_food_today or facts.urgent.eviction_within_7_days


async def on_case_created(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, intake.CaseCreated)
    resident, household = ("resident", data.resident_id), ("household", data.household_id)
    keys = await pseudonyms(session, [resident, household])
    await _fact(
        session,
        data.case_id,
        event_id=data.event_id,
        resident_key=keys[resident],
        household_key=keys[household],
        concerns=[c.value for c in data.facts.concerns],
        urgent=_urgent(data.facts),
        taken_at=data.created_at,
    )


async def on_case_updated(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, intake.CaseUpdated)
    await _fact(
        session,
        data.case_id,
        concerns=[c.value for c in data.facts.concerns],
        urgent=_urgent(data.facts),
    )


async def on_case_routed(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.CaseRouted)
    # Routing may find a case urgent that intake's flags did not say (never the reverse).
    urgent = {"urgent": True} if data.urgent else {}
    fact_id = await _fact(session, data.case_id, compound=data.compound, **urgent)
    if not data.referrals:
        return
    r = tables.report_referral
    # All of the case's referrals in one statement (each referral once in an event).
    statement = insert(r).values(_referral_rows(data.referrals, fact_id, envelope.occurred_at))
    await session.execute(
        # A status change read first has the newer status: keep it, add when it was routed.
        statement.on_conflict_do_update(
            index_elements=[r.c.referral_id],
            set_={
                "fact_id": statement.excluded.fact_id,
                "programme": statement.excluded.programme,
                "routed_at": statement.excluded.routed_at,
            },
        )
    )


async def on_case_rerouted(session: AsyncSession, envelope: Envelope) -> None:
    """A corrected case routed again: every referral as it now stands, some added or withdrawn."""
    data = parse(envelope, routing.CaseRerouted)
    urgent = {"urgent": True} if data.urgent else {}
    fact_id = await _fact(session, data.case_id, compound=data.compound, **urgent)
    if not data.referrals:
        return
    r = tables.report_referral
    statement = insert(r).values(_referral_rows(data.referrals, fact_id, envelope.occurred_at))
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[r.c.referral_id],
            set_={
                "programme": statement.excluded.programme,
                "status": statement.excluded.status,
                "routed_at": func.coalesce(r.c.routed_at, statement.excluded.routed_at),
            },
        )
    )


async def on_referral_status_changed(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.ReferralStatusChanged)
    fact_id = await _fact(session, data.case_id)
    r = tables.report_referral
    changes: dict[str, Any] = {"status": data.status.value}
    if data.status is ReferralStatus.ACCEPTED:
        changes["accepted_at"] = envelope.occurred_at
    if data.status is ReferralStatus.DECLINED:
        changes["decline_reason"] = as_code(data.reason)
    if data.status is ReferralStatus.CLOSED:
        changes["outcome"] = as_code(data.outcome)
    if data.status is ReferralStatus.ESCALATED:
        changes["escalated"] = True
    statement = insert(r).values(
        referral_id=data.referral_id,
        fact_id=fact_id,
        programme=data.programme.value,
        **changes,
    )
    if "accepted_at" in changes:
        # The first acceptance counts for the time to acceptance.
        changes["accepted_at"] = func.coalesce(r.c.accepted_at, statement.excluded.accepted_at)
    await session.execute(
        statement.on_conflict_do_update(index_elements=[r.c.referral_id], set_=changes)
    )


async def on_referral_escalated(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.ReferralEscalated)
    fact_id = await _fact(session, data.case_id)
    r = tables.report_referral
    await session.execute(
        insert(r)
        .values(
            referral_id=data.referral_id,
            fact_id=fact_id,
            programme=data.programme.value,
            status=ReferralStatus.PENDING.value,
            escalated=True,
        )
        .on_conflict_do_update(index_elements=[r.c.referral_id], set_={"escalated": True})
    )


async def on_parcel_handed_out(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, food.ParcelHandedOut)
    # Pseudonym first, then the fact row: the same order as case_created, so that the two
    # consumers of the report group never wait on each other's locks in opposite orders.
    household_key = await pseudonym(session, "household", data.household_id)
    fact_id = await _fact(session, data.case_id)
    p = tables.report_parcel
    await session.execute(
        insert(p)
        .values(
            handout_id=data.handout_id,
            fact_id=fact_id,
            event_id=data.event_id,
            household_key=household_key,
            parcel_type=data.parcel_type.value,
            handed_out_at=data.handed_out_at,
        )
        .on_conflict_do_nothing(index_elements=[p.c.handout_id])
    )


async def forget_resident(session: AsyncSession, resident_id: str) -> int:
    """Unlink a resident's facts from everything that could name them; returns the cases.

    For erasure: the pseudonym's key goes, the fact rows lose their case id, and referral and
    handout rows get fresh random ids. Every count in every report stays the same. Events about
    the case that arrive afterwards make rows of their own without an event, which reports
    leave out.
    """
    p = tables.report_pseudonym
    key = await session.scalar(
        select(p.c.pseudonym).where(p.c.kind == "resident", p.c.subject_id == resident_id)
    )
    if key is None:
        return 0
    await session.execute(p.delete().where(p.c.kind == "resident", p.c.subject_id == resident_id))
    c = tables.report_case
    facts = list(await session.scalars(select(c.c.fact_id).where(c.c.resident_key == key)))
    if not facts:
        return 0
    await session.execute(update(c).where(c.c.fact_id.in_(facts)).values(case_id=None))
    for table, column in (
        (tables.report_referral, tables.report_referral.c.referral_id),
        (tables.report_parcel, tables.report_parcel.c.handout_id),
    ):
        ids = list(await session.scalars(select(column).where(table.c.fact_id.in_(facts))))
        for old in ids:
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
FOOD_HANDLERS = {food.PARCEL_HANDED_OUT: on_parcel_handed_out}


def _referral_rows(referrals: list[Any], fact_id: str, routed_at: Any) -> list[dict[str, Any]]:
    """A routed or rerouted case's referrals as report rows (each referral once)."""
    return [
        {
            "referral_id": referral.referral_id,
            "fact_id": fact_id,
            "routed_at": routed_at,
            "programme": referral.programme.value,
            "status": referral.status.value,
        }
        for referral in _once(referrals)
    ]
