"""The composition root: routing's runtime (rules, consumers, scanner) and its FastAPI app.

Started by ``python -m tsunagu.shared.cli serve routing``. The rule set is loaded and validated
here, before anything is consumed: a bad rule file stops the service at start-up.
"""

from __future__ import annotations

from fastapi import FastAPI

from tsunagu.routing import asyncapi
from tsunagu.routing.adapters.orm import tables
from tsunagu.routing.config import Clock, RoutingConfig
from tsunagu.routing.domain import load_rules
from tsunagu.routing.domain.deadlines import load_calendar
from tsunagu.routing.entrypoints import consumers
from tsunagu.routing.entrypoints.http import create_router
from tsunagu.routing.entrypoints.scanner import DeadlineScanner
from tsunagu.routing.service_layer import privacy
from tsunagu.routing.service_layer.handlers import Routing
from tsunagu.shared.clock import service_clock
from tsunagu.shared.http import create_app
from tsunagu.shared.internal import disclosure_router
from tsunagu.shared.logs import get_logger
from tsunagu.shared.runtime import ServiceRuntime
from tsunagu.shared.settings import Settings

log = get_logger(__name__)


class RoutingRuntime(ServiceRuntime):
    """The shared runtime plus routing's own parts: the rule set, handlers and scanner."""

    def __init__(self, settings: Settings, config: RoutingConfig, clock: Clock) -> None:
        rules = load_rules(config.rules_path)  # raises RuleSetError naming the bad field
        load_calendar(clock().astimezone(rules.timezone).date())
        super().__init__(settings, tables)
        self.config = config
        self.routing = Routing(tables=tables, rules=rules, outbox=self.outbox, clock=clock)
        self.consumer = consumers.register(self, self.routing, consumer=config.consumer_name)
        self.scanner = DeadlineScanner(
            self.routing,
            self.sessions,
            interval=config.scan_interval_seconds,
            batch_size=config.scan_batch_size,
        )
        self.background.append(self.scanner)
        log.info("routing_rules_loaded", rule_version=rules.version)


def build_runtime(
    settings: Settings, clock: Clock | None = None, *, config: RoutingConfig | None = None
) -> RoutingRuntime:
    """``config`` defaults to the ``TSUNAGU_ROUTING_*`` environment; ``clock`` to real time,
    moved by ``config.clock_offset_seconds`` (refused in prod)."""
    config = config or RoutingConfig()
    moved = service_clock(
        config.clock_offset_seconds,
        env=settings.env,
        setting="TSUNAGU_ROUTING_CLOCK_OFFSET_SECONDS",
    )
    clock = clock or moved
    return RoutingRuntime(settings, config, clock)


def build_app(settings: Settings, runtime: RoutingRuntime | None = None) -> FastAPI:
    runtime = runtime or build_runtime(settings)
    app = create_app(
        title="Tsunagu routing",
        service=settings.service,
        login_url=f"{settings.intake_url}/login",
        readiness=runtime.readiness(),
        lifespan=runtime.lifespan,
        max_body_bytes=settings.max_body_bytes,
        asyncapi=asyncapi.document,
    )
    authenticator = runtime.authenticator()
    app.include_router(create_router(runtime.routing, runtime.sessions, authenticator))
    app.include_router(disclosure_router(settings, runtime.sessions, privacy.disclose))
    app.state.runtime = runtime
    return app
