"""What every service process runs besides its own logic: database, broker, consumers, relay.

A service's ``bootstrap.py`` (its composition root) builds one ``ServiceRuntime``, registers its
handlers on it, and hands ``runtime.lifespan`` to its FastAPI app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from tenacity import AsyncRetrying, RetryCallState, wait_incrementing

from tsunagu.shared import revocation
from tsunagu.shared.auth import Authenticator, TokenVerifier
from tsunagu.shared.broker import create_broker, create_producer
from tsunagu.shared.clock import pin_japan_today
from tsunagu.shared.contracts.envelope import Envelope, utcnow
from tsunagu.shared.contracts.intake import RESIDENT_ERASED
from tsunagu.shared.contracts.topics import INTAKE_STAFF
from tsunagu.shared.db import any_of, create_engine, ping, service_metadata, session_factory
from tsunagu.shared.http import ReadinessCheck
from tsunagu.shared.logs import get_logger
from tsunagu.shared.messaging import (
    Finish,
    Handler,
    IdempotentConsumer,
    Prepare,
    Skip,
    inbox_table,
    subscribe,
)
from tsunagu.shared.outbox import OutboxRelay, OutboxWriter, outbox_table
from tsunagu.shared.periodic import PeriodicJob
from tsunagu.shared.settings import Settings

log = get_logger(__name__)


class ServiceTables:
    """A service's metadata with the tables every service has: outbox, inbox, and the
    tombstones of erased cases (ids only: what must never come back)."""

    def __init__(self, schema: str) -> None:
        self.metadata: MetaData = service_metadata(schema)
        self.outbox: Table = outbox_table(self.metadata)
        self.inbox: Table = inbox_table(self.metadata)
        self.erased_case: Table = Table(
            "erased_case",
            self.metadata,
            Column("case_id", String(64), primary_key=True),
            Column("resident_id", String(64), nullable=False, index=True),
            Column("erased_at", DateTime(timezone=True), nullable=False),
        )
        #: Ended staff sign-ins (``tsunagu.shared.revocation``): every service keeps them.
        self.revoked_session: Table = revocation.revoked_session_table(self.metadata)
        self.staff_token_version: Table = revocation.staff_token_version_table(self.metadata)


async def record_erasure(
    session: AsyncSession, tables: ServiceTables, case_id: str, resident_id: str, at: Any
) -> bool:
    """Keep the tombstone of an erased case; False if it was already erased here."""
    t = tables.erased_case
    done = await session.execute(
        insert(t)
        .values(case_id=case_id, resident_id=resident_id, erased_at=at)
        .on_conflict_do_nothing()
        .returning(t.c.case_id)
    )
    return done.first() is not None


async def is_erased(session: AsyncSession, tables: ServiceTables, case_id: str) -> bool:
    t = tables.erased_case
    return await session.scalar(select(t.c.case_id).where(t.c.case_id == case_id)) is not None


def create_erased_case_table(schema: str) -> None:
    """The migration step that creates the tombstones above (``ServiceTables.erased_case``) in
    ``schema``: every service's erasure revision calls it (ADR 12)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "erased_case",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("resident_id", sa.String(64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_erased_case"),
        schema=schema,
    )
    op.create_index("ix_erased_case_resident_id", "erased_case", ["resident_id"], schema=schema)


def drop_erased_case_table(schema: str) -> None:
    from alembic import op

    op.drop_table("erased_case", schema=schema)


class OutboxPruner(PeriodicJob):
    """Deletes outbox rows sent more than ``keep_hours`` ago, every ``period_seconds``: once
    published, a row is Kafka's to keep (for the topic's retention), not the database's."""

    def __init__(self, engine: AsyncEngine, table: Table, keep_hours: float, period: float):
        super().__init__("outbox-pruner", period=period)
        self.engine = engine
        self.table = table
        self.keep_hours = keep_hours

    async def prune(self) -> int:
        cutoff = utcnow() - timedelta(hours=self.keep_hours)
        t = self.table
        async with self.engine.begin() as conn:
            done = await conn.execute(
                delete(t).where(t.c.sent_at.is_not(None), t.c.sent_at < cutoff)
            )
        return int(done.rowcount or 0)

    async def run_once(self) -> int:
        pruned = await self.prune()
        if pruned:
            log.info("outbox_pruned", rows=pruned)
        return pruned


class ServiceRuntime:
    def __init__(self, settings: Settings, tables: ServiceTables) -> None:
        self.settings = settings
        self.tables = tables
        # Which of a batch's cases are erased: one statement, built once (ADR 22).
        erased = tables.erased_case
        self._erased_of = select(erased.c.case_id).where(any_of(erased.c.case_id, "cases"))
        pin_japan_today(settings.pinned_date)
        self.engine = create_engine(
            settings.database_url,
            settings.db_schema,
            settings.db_pool_size,
            connect_timeout=settings.db_connect_timeout_seconds,
            command_timeout=settings.db_command_timeout_seconds,
        )
        self.sessions = session_factory(self.engine)
        self.broker = create_broker(settings)
        self._subscriptions: list[tuple[IdempotentConsumer, list[str]]] = []
        self.started = asyncio.Event()
        self.outbox = OutboxWriter(tables.outbox, producer=settings.service)
        self._producer: Any = None
        self.relay: OutboxRelay | None = None
        self.pruner = OutboxPruner(
            self.engine,
            tables.outbox,
            settings.outbox_keep_hours,
            settings.outbox_prune_seconds,
        )
        self.background: list[Any] = [self.pruner]
        self.revocations = revocation.RevocationCache(
            self.sessions, tables.revoked_session, tables.staff_token_version
        )
        if settings.service in INTAKE_STAFF.consumers:
            self.consume(
                [INTAKE_STAFF.name],
                revocation.handlers(tables.revoked_session, tables.staff_token_version),
                consumer=settings.extra.get("consumer_group"),
            )

    def authenticator(self, *, allow_pending: bool = False) -> Authenticator:
        """Staff tokens for this service: signed by intake, naming this service, not revoked."""
        return Authenticator(
            TokenVerifier(self.settings.verifying_key(), audience=self.settings.service),
            self.settings.token_ttl_seconds,
            self.revocations,
            allow_pending=allow_pending,
        )

    def consume(
        self,
        topics: Iterable[str],
        handlers: dict[str, Handler],
        *,
        consumer: str | None = None,
        max_schema_version: int = 1,
        prepare: Prepare | None = None,
        finish: Finish | None = None,
        skip: Skip | None = None,
        lock: Prepare | None = None,
        linger_ms: int = 0,
    ) -> IdempotentConsumer:
        """Register idempotent handlers for ``topics`` (consumer group = service name);
        ``prepare`` reads once per batch what its handlers need, ``finish`` writes what they
        left for the whole batch (``IdempotentConsumer``). The events of an erased case are
        recorded but not applied, and so are those ``skip`` names. A consumer off a case's way
        to its programmes lingers (``linger_ms``, ADR 30).

        ``lock(session, events)`` runs before the tombstones of the events' cases are read, in
        the same transaction: for a consumer whose rows an erasure rewrites in the service's
        own transaction (not through an event in order), it takes the locks that erasure also
        takes first. An erasure that committed while the lock was awaited is then seen by the
        lookup (a later statement), and one that comes later waits for the batch (intake's
        report facts, ADR 26)."""

        async def skipped(session: AsyncSession, envelopes: list[Envelope]) -> set[str]:
            if lock is not None:
                await lock(session, envelopes)
            erased = await self._erased_events(session, envelopes)
            if skip is None:
                return erased
            return erased | await skip(session, [e for e in envelopes if e.event_id not in erased])

        idempotent = IdempotentConsumer(
            broker=self.broker,
            sessions=self.sessions,
            inbox=self.tables.inbox,
            consumer=consumer or self.settings.service,
            handlers=handlers,
            skip=skipped,
            skip_changed_by=frozenset({RESIDENT_ERASED}),
            max_schema_version=max_schema_version,
            prepare=prepare,
            finish=finish,
            max_attempts=self.settings.consumer_max_attempts,
            backoff_seconds=self.settings.consumer_backoff_seconds,
        )
        subscribe(idempotent, list(topics), linger_ms=linger_ms)
        self._subscriptions.append((idempotent, list(topics)))
        return idempotent

    async def _erased_events(self, session: AsyncSession, envelopes: list[Envelope]) -> set[str]:
        """The events of an erased case, which are ignored: a replay recreates nothing (ADR
        12). One query for a whole batch (ADR 22)."""
        cases = {
            e.event_id: case_id
            for e in envelopes
            if e.event_type != RESIDENT_ERASED and isinstance(case_id := e.data.get("case_id"), str)
        }
        if not cases:
            return set()
        erased = set(
            (await session.execute(self._erased_of, {"cases": list(set(cases.values()))})).scalars()
        )
        ignored = {event_id for event_id, case_id in cases.items() if case_id in erased}
        for e in envelopes:
            if e.event_id in ignored:
                log.info("erased_case_event_ignored", event_type=e.event_type)
        return ignored

    def consumers(self) -> list[tuple[IdempotentConsumer, list[str]]]:
        """The consumers registered here, with their topics (tests look at their groups)."""
        return list(self._subscriptions)

    def _new_broker(self) -> KafkaBroker:
        """A fresh broker with the same subscriptions, after a failed start."""
        broker = create_broker(self.settings)
        for idempotent, topics in self._subscriptions:
            idempotent.broker = broker
            subscribe(idempotent, topics)
        return broker

    def readiness(self) -> list[ReadinessCheck]:
        async def kafka() -> bool:
            return self.started.is_set() and await self.broker.ping(timeout=2)

        async def consumers() -> bool:
            """Not ready while a consumer waits out a transient fault (its backlog waits)."""
            return not any(idempotent.waiting for idempotent, _ in self._subscriptions)

        return [
            ("database", lambda: ping(self.engine)),
            ("kafka", kafka),
            ("consumers", consumers),
        ]

    async def start(self, *, relay: bool = True) -> None:
        """Start consumers, relay and background jobs; raises if Kafka cannot be reached."""
        await self.broker.start()
        if relay:
            self._producer = create_producer(self.settings)
            await self._producer.start()
            self.relay = OutboxRelay(
                engine=self.engine,
                table=self.tables.outbox,
                producer=self._producer,
                service=self.settings.service,
                database_url=self.settings.database_url,
                batch_size=self.settings.relay_batch_size,
                poll_seconds=self.settings.relay_poll_seconds,
            )
            await self.relay.start()
        for job in self.background:
            await job.start()
        self.started.set()

    async def stop(self) -> None:
        if self.started.is_set():
            for job in reversed(self.background):
                await job.stop()
        if self.relay is not None:
            await self.relay.stop()
            self.relay = None
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None
        with contextlib.suppress(Exception):
            await self.broker.stop()
        self.started.clear()

    async def start_when_reachable(self) -> None:
        """Keep trying until Kafka answers; meanwhile the process serves /healthz, and /readyz
        says not ready, so an orchestrator waits instead of restarting it in a loop."""

        async def failed(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "service_start_failed",
                attempt=state.attempt_number,
                error=type(exc).__name__,
            )
            await self.stop()
            self.broker = self._new_broker()

        # Half a second more each time, at most 5 s between tries; never gives up.
        async for attempt in AsyncRetrying(
            wait=wait_incrementing(start=0.5, increment=0.5, max=5.0), before_sleep=failed
        ):
            with attempt:
                await self.start()
        log.info("service_started", attempts=attempt.retry_state.attempt_number)

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        starter = asyncio.create_task(self.start_when_reachable())
        try:
            yield
        finally:
            starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starter
            await self.stop()
            await self.engine.dispose()
