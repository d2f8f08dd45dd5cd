"""Kafka consumers: food distribution reads its own topic, ``routing.food.v1`` (ADR 24).

Routing tells the desk what a handout needs of each case and nothing more: the household,
event and sealed furigana with rule 9's decision, a later eligibility, a consent withdrawal
and the resident's erasure. Food reads no topic that carries a case's concerns, reasons, age
or flags (``intake.case.v1``, ``routing.case.v1``): its Kafka user is not granted them.

The desk's consumer is off a case's way to its programmes: it lingers for its batches to gather
(ADR 30), a tenth of a second, long before anyone at the desk looks.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.food_distribution.service_layer import cases, privacy
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.shared.contracts import intake, routing, topics
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.messaging import OFF_PATH_LINGER_MS
from tsunagu.shared.runtime import ServiceRuntime

#: The topics food reads (intake.staff.v1 is read by the shared runtime: ended sign-ins).
TOPICS: tuple[str, ...] = tuple(
    t.name for t in topics.consumed_by(topics.FOOD_DISTRIBUTION) if t is not topics.INTAKE_STAFF
)

#: The event types food distribution applies: every one on its topic.
HANDLED: tuple[str, ...] = (
    routing.FOOD_CASE_ROUTED,
    routing.FOOD_CASE_REROUTED,
    routing.FOOD_CONSENT_WITHDRAWN,
    intake.RESIDENT_ERASED,
)


def register(runtime: ServiceRuntime, deps: Deps) -> None:
    """Idempotent handlers for every event type on ``routing.food.v1``; one consumer group
    and inbox."""

    async def on_case_routed(session: AsyncSession, envelope: Envelope) -> None:
        await cases.on_case_routed(session, deps, envelope)

    async def on_case_rerouted(session: AsyncSession, envelope: Envelope) -> None:
        await cases.on_case_rerouted(session, deps, envelope)

    runtime.consume(
        TOPICS,
        {
            routing.FOOD_CASE_ROUTED: on_case_routed,
            routing.FOOD_CASE_REROUTED: on_case_rerouted,
            routing.FOOD_CONSENT_WITHDRAWN: privacy.on_consent_withdrawn,
            intake.RESIDENT_ERASED: privacy.on_resident_erased,
        },
        max_schema_version=routing.SCHEMA_VERSION,
        linger_ms=OFF_PATH_LINGER_MS,
    )
