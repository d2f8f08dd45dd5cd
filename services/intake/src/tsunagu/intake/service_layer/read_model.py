"""What routing and food distribution report back, applied to intake's read model.

Handlers run inside the inbox transaction (``runtime.consume``), so each event applies once.
Events about a case intake does not hold are skipped: intake is the only source of cases, so
they can only come from elsewhere (another environment sharing the topic, a test).

The handlers do not write: each turns its event into the rows it changes
(``domain.read_model_changes``) and adds them to the batch; ``finish`` decides the batch in
memory and writes it with one statement per table, in one order: ``case_routing`` by case id,
``referral`` by referral id, ``food_eligibility`` by case id (ADR 26, as the report facts do).
A batch therefore costs a query for its cases (and, with an escalation of a referral the batch
does not make, one for those referrals) and an upsert per table it touches, not one or more
statements per event. A record applied on its own (no ``prepare``) is written at once, the
same way.
"""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.domain import read_model_changes as changes
from tsunagu.intake.domain.read_model_changes import EventWrites
from tsunagu.intake.service_layer.batch_upserts import Upsert, upsert_rows, upsert_statement
from tsunagu.intake.service_layer.gathered import Gathered
from tsunagu.shared.contracts import food, routing
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)


async def on_case_routed(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.CaseRouted)
    await _apply_event(session, changes.case_routed(data, envelope.occurred_at))


async def on_case_rerouted(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.CaseRerouted)
    await _apply_event(session, changes.case_rerouted(data, envelope.occurred_at))


async def on_referral_status_changed(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.ReferralStatusChanged)
    await _apply_event(session, changes.referral_status_changed(data, envelope.occurred_at))


async def on_referral_escalated(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, routing.ReferralEscalated)
    await _apply_event(session, changes.referral_escalated(data, envelope.occurred_at))


async def on_eligibility_granted(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, food.EligibilityGranted)
    await _apply_event(session, changes.eligibility_granted(data, envelope.occurred_at))


async def on_parcel_handed_out(session: AsyncSession, envelope: Envelope) -> None:
    data = parse(envelope, food.ParcelHandedOut)
    await _apply_event(session, changes.parcel_handed_out(data))


async def _write(session: AsyncSession, events: list[EventWrites]) -> None:
    """Decide ``events`` (in order) and write them: one statement per table, in key order."""
    if not events:
        return
    c = tables.case.c
    wanted = sorted({event.case_id for event in events})
    known = set(await session.scalars(select(c.case_id).where(c.case_id.in_(wanted))))
    existing: set[tuple[str, str]] = set()
    needed = changes.needs_existing(events, known)
    if needed:
        f = tables.referral.c
        referrals = sorted(key for table, key in needed if table == changes.REFERRAL)
        found = await session.scalars(select(f.referral_id).where(f.referral_id.in_(referrals)))
        existing = {(changes.REFERRAL, referral_id) for referral_id in found}
    decided = changes.decide(events, known, existing)
    for event in decided.skipped:
        log.info(
            "event_for_unknown_case_skipped", event_type=event.event_type, case_id=event.case_id
        )
    for table in changes.TABLES:
        rows = decided.rows[table]
        if rows:
            upsert = _UPSERTS[table]
            await upsert_rows(
                session,
                upsert,
                {key: change.insert for key, change in rows.items()},
                {key: change.ops for key, change in rows.items()},
            )


def _statement(table: Table, columns: dict[str, str]) -> Upsert:
    """The upsert of every column of ``table`` (the key first), any of which a row's ops may
    set."""
    assert set(columns) == set(table.c.keys()), table.name
    key = next(iter(columns))
    return upsert_statement(table, key, columns, tuple(columns)[1:], key)


_UPSERTS: dict[str, Upsert] = {
    changes.CASE_ROUTING: _statement(
        tables.case_routing,
        {
            "case_id": "text",
            "rule_version": "text",
            "lead": "text",
            "coordinator": "text",
            "compound": "boolean",
            "urgent": "boolean",
            "food_parcel_eligible": "boolean",
            "awaiting_consent": "jsonb",
            "external": "jsonb",
            "routed_at": "timestamptz",
            "rerouted_at": "timestamptz",
            "rerouted": "jsonb",
        },
    ),
    changes.REFERRAL: _statement(
        tables.referral,
        {
            "referral_id": "text",
            "case_id": "text",
            "programme": "text",
            "role": "text",
            "status": "text",
            "reasons": "jsonb",
            "deadline_at": "timestamptz",
            "escalated": "boolean",
            "last_reason": "text",
            "last_outcome": "text",
            "last_reason_code": "text",
            "last_outcome_code": "text",
            "suggested_next": "text",
            "allowed_actions": "jsonb",
            "submitted_action": "text",
            "submitted_at": "timestamptz",
            "updated_at": "timestamptz",
        },
    ),
    changes.FOOD_ELIGIBILITY: _statement(
        tables.food_eligibility,
        {
            "case_id": "text",
            "household_id": "text",
            "event_id": "text",
            "basis": "text",
            "granted_at": "timestamptz",
            "parcel_type": "text",
            "handed_out_at": "timestamptz",
            "handed_out_by": "text",
        },
    ),
}

# The batch's events, gathered in its transaction and written at its end (ADR 26).
_GATHERED: Gathered[list[EventWrites]] = Gathered("read_model", list, _write)
prepare = _GATHERED.prepare
finish = _GATHERED.finish


async def _apply_event(session: AsyncSession, event: EventWrites) -> None:
    await _GATHERED.apply(session, lambda events: events.append(event))


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
