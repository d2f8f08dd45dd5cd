"""Routing's consumers: the intake events it reacts to, each bound to its handler."""

from __future__ import annotations

from functools import partial

from tsunagu.routing.service_layer.handlers import (
    Routing,
    on_case_created,
    on_case_updated,
    on_consent_changed,
    on_referral_requested,
    on_referral_response,
)
from tsunagu.routing.service_layer.privacy import on_resident_erased
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.topics import INTAKE_STAFF, ROUTING, consumed_by
from tsunagu.shared.messaging import Handler, IdempotentConsumer
from tsunagu.shared.runtime import ServiceRuntime

#: The topics routing reads (intake.case.v1, intake.referral_response.v1), from the registry;
#: intake.staff.v1 is read by the shared runtime (ended sign-ins), like in every service.
TOPICS: tuple[str, ...] = tuple(t.name for t in consumed_by(ROUTING) if t is not INTAKE_STAFF)


def handlers(routing: Routing) -> dict[str, Handler]:
    """Event type → handler, for every event type on the topics routing reads."""
    return {
        intake.CASE_CREATED: partial(on_case_created, routing),
        intake.CASE_UPDATED: partial(on_case_updated, routing),
        intake.CONSENT_CHANGED: partial(on_consent_changed, routing),
        intake.REFERRAL_RESPONSE_SUBMITTED: partial(on_referral_response, routing),
        intake.REFERRAL_REQUESTED: partial(on_referral_requested, routing),
        intake.RESIDENT_ERASED: partial(on_resident_erased, routing),
    }


def register(
    runtime: ServiceRuntime, routing: Routing, *, consumer: str | None = None
) -> IdempotentConsumer:
    return runtime.consume(TOPICS, handlers(routing), consumer=consumer)
