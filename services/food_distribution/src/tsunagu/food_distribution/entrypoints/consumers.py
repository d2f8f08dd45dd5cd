"""Kafka consumers: food distribution learns cases from intake and eligibility from routing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.food_distribution.service_layer import cases, privacy
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.shared.contracts import intake, routing, topics
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.runtime import ServiceRuntime

#: The event types food distribution applies (others on its topics are ignored).
HANDLED: tuple[str, ...] = (
    intake.CASE_CREATED,
    intake.CONSENT_CHANGED,
    routing.CASE_ROUTED,
    routing.CASE_REROUTED,
)


def register(runtime: ServiceRuntime, deps: Deps) -> None:
    """Idempotent handlers: ``case_created`` on ``intake.case.v1`` (the household, the event)
    and routing's decisions on ``routing.case.v1`` (eligibility); other event types are
    ignored. One consumer group and inbox for both topics."""

    async def on_case_created(session: AsyncSession, envelope: Envelope) -> None:
        await cases.on_case_created(session, deps, envelope)

    async def on_case_decided(session: AsyncSession, envelope: Envelope) -> None:
        await cases.on_case_decided(session, deps, envelope)

    runtime.consume(
        [topics.INTAKE_CASE.name, topics.ROUTING_CASE.name],
        {
            intake.CASE_CREATED: on_case_created,
            intake.RESIDENT_ERASED: privacy.on_resident_erased,
            intake.CONSENT_CHANGED: privacy.on_consent_changed,
            routing.CASE_ROUTED: on_case_decided,
            routing.CASE_REROUTED: on_case_decided,
        },
        max_schema_version=routing.SCHEMA_VERSION,
    )
