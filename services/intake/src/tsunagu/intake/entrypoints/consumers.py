"""Which events intake consumes: its read model, and the anonymous report facts."""

from __future__ import annotations

from tsunagu.intake.service_layer import read_model, report_facts
from tsunagu.intake.service_layer.read_model import FOOD_HANDLERS, ROUTING_HANDLERS
from tsunagu.shared.contracts import routing
from tsunagu.shared.contracts.topics import (
    FOOD,
    INTAKE_CASE,
    REPORTS_GROUP_SUFFIX,
    ROUTING_CASE,
)
from tsunagu.shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, *, consumer: str | None = None) -> None:
    """Routing's decisions and status changes, and food's eligibility and handouts.

    The report facts have a consumer group of their own (``<group>-reports``): they also read
    intake's own case events, and their progress does not hold up the read model's.
    """
    # Routing's events are version 2 (reasons as data); version 1 events still read.
    routing_version = routing.SCHEMA_VERSION
    runtime.consume(
        [ROUTING_CASE.name],
        ROUTING_HANDLERS,
        consumer=consumer,
        max_schema_version=routing_version,
        prepare=read_model.prepare,
    )
    runtime.consume([FOOD.name], FOOD_HANDLERS, consumer=consumer, prepare=read_model.prepare)
    reports = (consumer or runtime.settings.service) + REPORTS_GROUP_SUFFIX
    runtime.consume([INTAKE_CASE.name], report_facts.CASE_HANDLERS, consumer=reports)
    runtime.consume(
        [ROUTING_CASE.name],
        report_facts.ROUTING_HANDLERS,
        consumer=reports,
        max_schema_version=routing_version,
    )
    runtime.consume([FOOD.name], report_facts.FOOD_HANDLERS, consumer=reports)
