"""The composition root: builds intake's runtime (database, broker, consumers) and its app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from tsunagu.intake import asyncapi
from tsunagu.intake.adapters.change_feed import ChangeFeed, channel_for
from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.adapters.routing_preview import RoutingPreview
from tsunagu.intake.entrypoints import consumers
from tsunagu.intake.entrypoints.http import PACKAGE, install
from tsunagu.intake.entrypoints.web import Intake
from tsunagu.intake.service_layer.cases import CaseNumbers, Ports
from tsunagu.intake.service_layer.keys import KeyStore, master_keys
from tsunagu.intake.service_layer.retention import RetentionJob
from tsunagu.shared.audit import AuditChainer
from tsunagu.shared.auth import TokenSigner
from tsunagu.shared.db import create_engine, ping
from tsunagu.shared.http import ReadinessCheck, create_app
from tsunagu.shared.runtime import ServiceRuntime
from tsunagu.shared.settings import Settings


class IntakeRuntime(ServiceRuntime):
    """The shared runtime plus the reception numbers, on a pool of their own (``CaseNumbers``)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, tables)
        self.numbers = CaseNumbers(
            create_engine(
                settings.database_url,
                settings.db_schema,
                pool_size=2,
                connect_timeout=settings.db_connect_timeout_seconds,
                command_timeout=settings.db_command_timeout_seconds,
            )
        )
        self.background.append(self.numbers)  # its stop closes the pool
        self.keys = KeyStore(master_keys(settings))
        self.ports = Ports(outbox=self.outbox, keys=self.keys, numbers=self.numbers)
        self.retention = RetentionJob(
            self.sessions,
            self.ports,
            settings.retention_days,
            settings.retention_scan_seconds,
        )
        self.background.append(self.retention)
        # What the live pages wait on (LISTEN on the schema's change channel).
        self.changes = ChangeFeed(settings.database_url, channel_for(settings.db_schema))
        self.background.append(self.changes)
        # The audit's hash chain is sealed within a period even if nobody searches it.
        self.audit_chainer = AuditChainer(
            self.sessions, tables.audit_log, settings.audit_chain_seconds
        )
        self.background.append(self.audit_chainer)

    def readiness(self) -> list[ReadinessCheck]:
        """The shared checks, and the reception numbers' own pool."""
        return [*super().readiness(), ("reception_numbers", lambda: ping(self.numbers.engine))]


def build_runtime(settings: Settings, *, consumer: str | None = None) -> IntakeRuntime:
    """Database, broker, outbox relay and the consumers of routing.case.v1 and food.v1.

    ``consumer`` (or ``TSUNAGU_EXTRA='{"consumer_group": ...}'``) overrides the consumer group,
    which is the service name by default: e.g. for a test run that must not share partitions
    with another intake process on the same broker.
    """
    runtime = IntakeRuntime(settings)
    consumers.register(runtime, consumer=consumer or settings.extra.get("consumer_group"))
    return runtime


def build_app(settings: Settings, runtime: IntakeRuntime | None = None) -> FastAPI:
    runtime = runtime or build_runtime(settings)
    app = create_app(
        title="Tsunagu intake",
        service=settings.service,
        login_url=settings.intake_url.rstrip("/") + "/login",
        readiness=runtime.readiness(),
        lifespan=runtime.lifespan,
        max_body_bytes=settings.max_body_bytes,
        asyncapi=asyncapi.document,
    )
    intake = Intake(
        settings=settings,
        runtime=runtime,
        auth=runtime.authenticator(),
        signer=TokenSigner(settings.signing_key()),
        ports=runtime.ports,
        preview=RoutingPreview(settings.routing_url),
        templates=Jinja2Templates(directory=PACKAGE / "templates"),
    )
    install(app, intake)
    return app
