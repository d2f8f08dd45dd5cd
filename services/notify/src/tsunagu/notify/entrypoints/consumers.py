"""Notify's consumers: every topic it reads, each event type bound to its handler.

Two subscriptions in the one consumer group and inbox (``notify``): routing publishes status
changes and escalations on both ``routing.case.v1`` and the programme topics, as separate
events, so each event type is taken from one topic only, or it would be announced twice.
"""

from __future__ import annotations

from functools import partial

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
from tsunagu.shared.contracts.topics import FOOD, INTAKE_CASE, PROGRAMME_TOPICS, ROUTING_CASE
from tsunagu.shared.messaging import Handler, IdempotentConsumer
from tsunagu.shared.runtime import ServiceRuntime

#: intake.case.v1, routing.case.v1 and food.v1.
CASE_TOPICS: tuple[str, ...] = (INTAKE_CASE.name, ROUTING_CASE.name, FOOD.name)
#: routing.programme.<programme>.v1, for all seven programmes.
PROGRAMME_TOPIC_NAMES: tuple[str, ...] = tuple(t.name for t in PROGRAMME_TOPICS.values())


def case_handlers(notify: Notify) -> dict[str, Handler]:
    """Other event types on these topics (case_updated, parcel_handed_out, ...) are skipped."""
    plan_it = partial(on_event, notify)
    return {
        intake.CASE_CREATED: partial(on_case_created, notify),
        intake.CONSENT_CHANGED: partial(on_consent_changed, notify),
        intake.RESIDENT_ERASED: on_resident_erased,
        routing.CASE_ROUTED: plan_it,
        routing.CASE_REROUTED: plan_it,  # plans nothing; keeps who holds the case
        routing.REFERRAL_STATUS_CHANGED: plan_it,
        routing.REFERRAL_ESCALATED: plan_it,
        food.STOCK_LOW: plan_it,
    }


def programme_handlers(notify: Notify) -> dict[str, Handler]:
    plan_it = partial(on_event, notify)
    return {routing.REFERRAL_CREATED: plan_it, routing.CONSENT_WITHDRAWN: plan_it}


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
