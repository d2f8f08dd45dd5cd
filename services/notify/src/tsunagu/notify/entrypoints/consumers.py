"""Notify's consumers: every topic it reads, each event type bound to its handler.

Notify reads its own topics (ADR 25): ``intake.contact.v1`` (the sealed contact, consent and
erasure, never the case's facts) and ``routing.notify.v1`` (routing's decisions and status
changes, never a reason), with ``food.v1`` for low stock. Two subscriptions in the one consumer
group and inbox (``notify``): routing publishes status changes and escalations on both its
notify topic and the programme topics, as separate events, so each event type is taken from
one topic only, or it would be announced twice.
"""

from __future__ import annotations

from functools import partial

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.notify.service_layer.privacy import on_resident_erased
from tsunagu.notify.service_layer.scheduling import (
    Notify,
    finish_batch,
    on_case_created,
    on_consent_changed,
    on_event,
    prepare_batch,
)
from tsunagu.shared.contracts import food, intake, routing
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import (
    FOOD,
    INTAKE_CONTACT,
    NOTIFY,
    PROGRAMME_TOPICS,
    ROUTING_NOTIFY,
)
from tsunagu.shared.messaging import OFF_PATH_LINGER_MS, Handler, IdempotentConsumer
from tsunagu.shared.runtime import ServiceRuntime

#: intake.contact.v1, routing.notify.v1 and food.v1.
CASE_TOPICS: tuple[str, ...] = (INTAKE_CONTACT.name, ROUTING_NOTIFY.name, FOOD.name)
#: routing.programme.<programme>.v1, for all seven programmes.
PROGRAMME_TOPIC_NAMES: tuple[str, ...] = tuple(t.name for t in PROGRAMME_TOPICS.values())
#: The event types of notify's own topics: each the twin of an event on intake.case.v1 or
#: routing.case.v1 (its ``causation_id``), which notify read before it had these topics.
TWIN_TYPES = frozenset(INTAKE_CONTACT.event_types) | frozenset(ROUTING_NOTIFY.event_types)


def case_handlers(notify: Notify) -> dict[str, Handler]:
    """Other event types on these topics (eligibility_granted, parcel_handed_out) are skipped."""
    plan_it = partial(on_event, notify)
    return {
        intake.CONTACT_CASE_CREATED: partial(on_case_created, notify),
        intake.CONTACT_CONSENT_CHANGED: partial(on_consent_changed, notify),
        intake.RESIDENT_ERASED: on_resident_erased,
        routing.NOTIFY_CASE_ROUTED: plan_it,
        routing.NOTIFY_CASE_REROUTED: plan_it,  # plans nothing; keeps who holds the case
        routing.NOTIFY_REFERRAL_STATUS_CHANGED: plan_it,
        routing.REFERRAL_ESCALATED: plan_it,
        food.STOCK_LOW: plan_it,
    }


def programme_handlers(notify: Notify) -> dict[str, Handler]:
    plan_it = partial(on_event, notify)
    return {routing.REFERRAL_CREATED: plan_it, routing.CONSENT_WITHDRAWN: plan_it}


async def told_before_the_switch(
    inbox: Table, consumer: str, session: AsyncSession, batch: list[Envelope]
) -> set[str]:
    """The twins whose original this consumer already applied (ADR 25); one query per batch.

    Before notify had its own topics it read ``intake.case.v1`` and ``routing.case.v1``. When
    it first reads its own topics it starts at their beginning, and meets the twins of what it
    applied there (intake and routing write both since their upgrade): those are recorded, not
    applied again, so no message is planned twice. Every other twin is applied."""
    twins = {
        e.event_id: e.causation_id for e in batch if e.event_type in TWIN_TYPES and e.causation_id
    }
    if not twins:
        return set()
    applied = set(
        (
            await session.execute(
                select(inbox.c.event_id).where(
                    inbox.c.consumer == consumer, inbox.c.event_id.in_(set(twins.values()))
                )
            )
        ).scalars()
    )
    return {event_id for event_id, original in twins.items() if original in applied}


def register(
    runtime: ServiceRuntime, notify: Notify, *, consumer: str | None = None
) -> list[IdempotentConsumer]:
    # Routing's events are version 2 (reasons as data); older versions still read.
    version = routing.SCHEMA_VERSION
    # A batch's cases are read in one query, its plans written together (ADR 22).
    prepare = partial(prepare_batch, notify)
    return [
        runtime.consume(
            CASE_TOPICS,
            case_handlers(notify),
            consumer=consumer,
            max_schema_version=version,
            prepare=prepare,
            finish=finish_batch,
            skip=partial(told_before_the_switch, notify.tables.inbox, consumer or NOTIFY),
            # Residents' own messages and contacts: off the referral's way (ADR 30).
            linger_ms=OFF_PATH_LINGER_MS,
        ),
        runtime.consume(
            PROGRAMME_TOPIC_NAMES,
            programme_handlers(notify),
            consumer=consumer,
            max_schema_version=version,
            prepare=prepare,
            finish=finish_batch,
        ),
    ]
