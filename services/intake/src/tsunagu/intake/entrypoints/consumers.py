"""Which events intake consumes: its read model, and the anonymous report facts.

Neither is on a case's way to its programmes: both linger for their batches to gather, so at
light load they run once routing and notify are done with the case (ADR 30)."""

from __future__ import annotations

from tsunagu.intake.service_layer import case_locks, read_model, report_facts
from tsunagu.intake.service_layer.read_model import FOOD_HANDLERS, ROUTING_HANDLERS
from tsunagu.shared.contracts import routing
from tsunagu.shared.contracts.topics import (
    FOOD,
    INTAKE_CASE,
    REPORTS_GROUP_SUFFIX,
    ROUTING_CASE,
)
from tsunagu.shared.messaging import OFF_PATH_LINGER_MS, IdempotentConsumer
from tsunagu.shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, *, consumer: str | None = None) -> None:
    """Routing's decisions and status changes, and food's eligibility and handouts, each
    batch decided in memory and written with one statement per table (``read_model``).

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
        finish=read_model.finish,
        # The erasure blanks staff's words on the case's referrals: a batch that waited on it
        # must see its tombstones, or it writes them again (the same turn-taking as the
        # report facts', ADR 26).
        lock=case_locks.lock_events,
        linger_ms=OFF_PATH_LINGER_MS,
    )
    runtime.consume(
        [FOOD.name],
        FOOD_HANDLERS,
        consumer=consumer,
        prepare=read_model.prepare,
        finish=read_model.finish,
        linger_ms=OFF_PATH_LINGER_MS,
    )
    register_reports(runtime, (consumer or runtime.settings.service) + REPORTS_GROUP_SUFFIX)


def register_reports(runtime: ServiceRuntime, group: str) -> IdempotentConsumer:
    """The report facts: one consumer of the three topics, whose batches write each table's
    rows with one statement in key order (``report_facts``), so no two of its transactions
    lock the same cases' rows in different orders; each batch takes its cases' report locks
    before it looks for their tombstones, so an erasure and a batch take turns (ADR 26).
    Topics of version 1 are read with routing's version, as notify's consumer of several
    topics does."""
    return runtime.consume(
        [INTAKE_CASE.name, ROUTING_CASE.name, FOOD.name],
        report_facts.HANDLERS,
        consumer=group,
        max_schema_version=routing.SCHEMA_VERSION,
        prepare=report_facts.prepare,
        finish=report_facts.finish,
        lock=case_locks.lock_events,
        linger_ms=OFF_PATH_LINGER_MS,
    )
