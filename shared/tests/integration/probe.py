"""Two probe services, A (writes and publishes) and B (consumes), for the messaging tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from faststream.kafka import KafkaBroker
from sqlalchemy import Column, Integer, String, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tsunagu.shared.broker import create_broker
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.db import create_engine, session_factory
from tsunagu.shared.messaging import (
    Finish,
    Handler,
    IdempotentConsumer,
    Prepare,
    Skip,
    subscribe,
)
from tsunagu.shared.outbox import OutboxWriter
from tsunagu.shared.runtime import ServiceTables
from tsunagu.shared.settings import Settings
from tsunagu.shared.testing import eventually as eventually  # the tests import it from here


class ProbeA:
    def __init__(self) -> None:
        self.tables = ServiceTables("probe_a")
        self.greeting = Table(
            "greeting",
            self.tables.metadata,
            Column("id", String(36), primary_key=True),
            Column("text", String(100), nullable=False),
        )


class ProbeB:
    def __init__(self) -> None:
        self.tables = ServiceTables("probe_b")
        self.applied = Table(
            "applied_greeting",
            self.tables.metadata,
            Column("seq", Integer, primary_key=True, autoincrement=True),
            Column("greeting_id", String(36), nullable=False),
        )


async def create_schema(engine: AsyncEngine, tables: ServiceTables) -> None:
    schema = tables.metadata.schema
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
        await conn.run_sync(tables.metadata.create_all)


@dataclass
class Consumer:
    """Service B's consumer, running for real on the broker."""

    settings: Settings
    probe: ProbeB
    topic: str
    fail_with: Callable[[Envelope], Exception | None] = lambda _: None
    #: Where the consumer reaches the database (e.g. through a ``TcpProxy``); the checks in
    #: ``applied`` always go straight to it.
    database_url: str | None = None
    #: More handlers, and the consumer's ``skip`` (see ``IdempotentConsumer``).
    more_handlers: dict[str, Handler] = field(default_factory=dict)
    skip: Skip | None = None
    skip_changed_by: frozenset[str] = frozenset()
    prepare: Prepare | None = None
    finish: Finish | None = None
    engine: AsyncEngine = field(init=False)
    broker: KafkaBroker = field(init=False)

    def __post_init__(self) -> None:
        self.engine = create_engine(self.database_url or self.settings.database_url, "probe_b", 5)
        self.direct = create_engine(self.settings.database_url, "probe_b", 2)
        self.broker = create_broker(self.settings)
        sessions = session_factory(self.engine)

        async def on_greeting(session: AsyncSession, env: Envelope) -> None:
            error = self.fail_with(env)
            if error is not None:
                raise error
            await session.execute(self.probe.applied.insert().values(greeting_id=env.data["id"]))

        self.idempotent = IdempotentConsumer(
            broker=self.broker,
            sessions=sessions,
            inbox=self.probe.tables.inbox,
            consumer="probe_b",
            handlers={"greeting_written": on_greeting, **self.more_handlers},
            max_attempts=3,
            backoff_seconds=0.05,
            skip=self.skip,
            skip_changed_by=self.skip_changed_by,
            prepare=self.prepare,
            finish=self.finish,
        )
        subscribe(self.idempotent, [self.topic])

    async def start(self) -> None:
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self.engine.dispose()
        await self.direct.dispose()

    async def applied(self, greeting_id: str | None = None) -> int:
        t = self.probe.applied
        stmt = select(func.count()).select_from(t)
        if greeting_id is not None:
            stmt = stmt.where(t.c.greeting_id == greeting_id)
        async with self.direct.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())


async def write_greeting(
    engine: AsyncEngine, probe: ProbeA, topic: str, greeting_id: str, *, fail: bool = False
) -> Envelope:
    """Service A's business transaction: a row and its event, together or not at all."""
    writer = OutboxWriter(probe.tables.outbox, producer="probe_a")
    envelope = writer.envelope("greeting_written", {"id": greeting_id})
    async with session_factory(engine)() as session, session.begin():
        await session.execute(probe.greeting.insert().values(id=greeting_id, text="こんにちは"))
        await writer.add(
            session, topic=topic, aggregatetype="greeting", aggregateid=greeting_id,
            envelope=envelope,
        )  # fmt: skip
        if fail:
            raise RuntimeError("business rule failed after writing")
    return envelope
