"""Kafka consumers: food distribution learns cases (and their eligibility) from intake."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.food_distribution.service_layer import cases
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.shared.contracts import intake, topics
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, deps: Deps) -> None:
    """Idempotent handlers on ``intake.case.v1``; other event types on it are ignored."""

    async def on_case_created(session: AsyncSession, envelope: Envelope) -> None:
        await cases.on_case_created(session, deps, envelope)

    async def on_case_updated(session: AsyncSession, envelope: Envelope) -> None:
        await cases.on_case_updated(session, deps, envelope)

    runtime.consume(
        [topics.INTAKE_CASE.name],
        {intake.CASE_CREATED: on_case_created, intake.CASE_UPDATED: on_case_updated},
    )
