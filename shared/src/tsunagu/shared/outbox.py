"""Transactional outbox: the table, the writer used inside the business transaction, and the relay.

Columns follow the Debezium outbox shape (``id, aggregatetype, aggregateid, type, payload``)
so change-data-capture can replace the polling relay later without a migration.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from tsunagu.shared.contracts.envelope import Envelope, utcnow
from tsunagu.shared.db import any_of
from tsunagu.shared.faults import is_transient
from tsunagu.shared.logs import describe_error, get_logger
from tsunagu.shared.wakeup import Listener, notify_at_commit

log = get_logger(__name__)

RELAY_PUBLISHED = Counter(
    "tsunagu_outbox_published_total", "Outbox rows published to Kafka", ["service"]
)
RELAY_BACKLOG = Gauge("tsunagu_outbox_backlog", "Unsent outbox rows seen by the relay", ["service"])
RELAY_FAILING = Gauge(
    "tsunagu_outbox_relay_failing",
    "1 while the relay cannot publish (database or broker unreachable); rows wait in the outbox",
    ["service"],
)
RELAY_FAILURES = Counter(
    "tsunagu_outbox_relay_failures_total",
    "Relay tries that failed, by kind: transient (database, broker) or permanent",
    ["service", "kind"],
)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("id", String(36), nullable=False, unique=True),
        Column("aggregatetype", String(64), nullable=False),
        Column("aggregateid", String(64), nullable=False),
        Column("type", String(64), nullable=False),
        Column("topic", String(255), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True)),
        Index("ix_outbox_unsent", "seq", postgresql_where=text("sent_at IS NULL")),
    )


def create_outbox_table(schema: str) -> None:
    """The migration step that creates the table above in ``schema`` (every service's first
    revision calls it). Written out, not derived from ``outbox_table``: a revision must create
    what it created when it was written, whatever the table becomes later."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("aggregatetype", sa.String(64), nullable=False),
        sa.Column("aggregateid", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column(
            "headers", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("id", name="uq_outbox_id"),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["seq"],
        schema=schema,
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def drop_outbox_table(schema: str) -> None:
    from alembic import op

    op.drop_table("outbox", schema=schema)


def notify_channel(schema: str) -> str:
    return f"tsunagu_outbox_{schema}"


class OutboxWriter:
    """Adds events to the outbox inside the caller's transaction; nothing is sent here."""

    def __init__(self, table: Table, producer: str) -> None:
        self.table = table
        self.producer = producer
        self._channel = notify_channel(table.schema or "public")

    def envelope(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        correlation_id: str | None = None,
        causation: Envelope | None = None,
        schema_version: int = 1,
    ) -> Envelope:
        extra: dict[str, Any] = {}
        if causation is not None:
            extra = {"correlation_id": causation.correlation_id, "causation_id": causation.event_id}
        elif correlation_id:
            extra = {"correlation_id": correlation_id}
        return Envelope(
            event_type=event_type,
            producer=self.producer,
            schema_version=schema_version,
            data=data,
            **extra,
        )

    def twin(
        self, of: Envelope, event_type: str, data: dict[str, Any], *, schema_version: int = 1
    ) -> Envelope:
        """The same event told to one reader in fewer words, on that reader's own topic (ADR
        25): its own event id, made when ``of`` was (``occurred_at``, which newer-state checks
        compare), caused by ``of`` (``causation_id``) in the same correlation."""
        return Envelope(
            event_type=event_type,
            producer=self.producer,
            schema_version=schema_version,
            occurred_at=of.occurred_at,
            correlation_id=of.correlation_id,
            causation_id=of.event_id,
            data=data,
        )

    async def add(
        self,
        session: AsyncSession,
        *,
        topic: str,
        aggregatetype: str,
        aggregateid: str,
        envelope: Envelope,
        headers: dict[str, str] | None = None,
    ) -> Envelope:
        """Add the event to the transaction's outbox rows. The rows are written when the
        transaction commits, all of a transaction's rows in one statement (``flush`` writes
        them earlier): a consumer's batch that emits a hundred events costs one insert, not a
        hundred (ADR 22). They are written in the order they were added."""
        pending(session).append(
            (
                self.table,
                {
                    "id": envelope.event_id,
                    "aggregatetype": aggregatetype,
                    "aggregateid": aggregateid,
                    "type": envelope.event_type,
                    "topic": topic,
                    "payload": envelope.model_dump(mode="json"),
                    "headers": headers or {},
                },
            )
        )
        # A wake-up hint for the relay, delivered at commit (once per transaction); the relay
        # also polls.
        await notify_at_commit(session, self._channel)
        return envelope

    @staticmethod
    async def flush(session: AsyncSession) -> None:
        """Write the transaction's outbox rows now (commit does it anyway)."""
        await session.run_sync(_write_pending)


_PENDING = "tsunagu_outbox_pending"  # session.info key: (the transaction, its unwritten rows)


def pending(session: AsyncSession) -> list[tuple[Table, dict[str, Any]]]:
    """The outbox rows added in the session's current transaction and not yet written."""
    sync = session.sync_session
    transaction = sync.get_transaction()
    if transaction is None:
        transaction = sync.begin()
    held: tuple[object, list[tuple[Table, dict[str, Any]]]] | None = sync.info.get(_PENDING)
    if held is None or held[0] is not transaction:
        held = (transaction, [])
        sync.info[_PENDING] = held
    return held[1]


def _write_pending(session: Session) -> None:
    held = session.info.pop(_PENDING, None)
    if held is None or held[0] is not session.get_transaction() or not held[1]:
        return  # nothing added, or added in a transaction that was rolled back
    rows = held[1]
    start = 0
    # One executemany per run of rows for the same table (a service has one outbox table).
    for end in range(1, len(rows) + 1):
        if end == len(rows) or rows[end][0] is not rows[start][0]:
            session.execute(rows[start][0].insert(), [row for _, row in rows[start:end]])
            start = end


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    # Runs inside AsyncSession.commit's greenlet, so a synchronous execute is fine here.
    _write_pending(session)


class OutboxRelay:
    """Publishes unsent outbox rows in order, then marks them sent.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` under a per-service advisory lock, so with
    several replicas one batch is in flight at a time and per-case order is kept. A crash after
    publishing but before marking sent republishes the batch: consumers de-duplicate by event id.

    While it cannot publish (the database or the broker is away) the rows wait in the outbox;
    the relay tries again with a backoff doubling from ``poll_seconds`` up to
    ``max_backoff_seconds``, says so in one line when the trouble starts (the error's class and
    SQLSTATE, never its message), again at most once every ``log_every_seconds``, and once when
    it publishes again.
    """

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        table: Table,
        producer: AIOKafkaProducer,
        service: str,
        database_url: str,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        listen: bool = True,
        max_backoff_seconds: float = 5.0,
        log_every_seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        self.table = table
        self.producer = producer
        self.service = service
        self.database_url = database_url
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.listen = listen
        self.max_backoff_seconds = max_backoff_seconds
        self.log_every_seconds = log_every_seconds
        self._failing_since: float | None = None
        self._failures = 0
        self._last_logged = -math.inf
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        schema = table.schema or "public"
        self._lock_key = zlib.crc32(f"outbox:{schema}".encode())
        self._listener = Listener(database_url, notify_channel(schema))
        # Both statements are built once, so each batch takes them from SQLAlchemy's compiled
        # cache: no statement built and no IN list expanded per batch (ADR 22).
        t = table
        # The service's advisory lock is taken in the same statement as the rows (one round
        # trip): PostgreSQL tries it on the first unsent row it reads, so a relay whose lock
        # another replica holds reads no rows. With no unsent row it is not taken, and nothing
        # needs it.
        self._unsent = (
            select(t.c.seq, t.c.id, t.c.aggregateid, t.c.topic, t.c.payload, t.c.headers)
            .where(t.c.sent_at.is_(None), func.pg_try_advisory_xact_lock(self._lock_key))
            .order_by(t.c.seq)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        self._mark_sent = (
            update(t).where(any_of(t.c.seq, "seqs")).values(sent_at=bindparam("sent_at"))
        )

    async def start(self) -> None:
        if self.listen:
            await self._listener.start()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        self._stopping.set()
        self._listener.wake()
        if self._task is not None:
            await self._task
        await self._listener.stop()

    @property
    def failing(self) -> bool:
        """True while the relay's tries fail (the rows wait in the outbox)."""
        return self._failing_since is not None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.publish_batch()
            except Exception as exc:
                await self._pause(self._failed(exc))
                continue
            self._recovered()
            if sent == self.batch_size:
                continue  # more is waiting
            if self.listen:
                await self._listener.wait(self.poll_seconds)
            else:
                await self._pause(self.poll_seconds)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _failed(self, exc: BaseException) -> float:
        """Count and (rarely) log a failed try; returns the pause before the next one."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            self._failures = 0
            RELAY_FAILING.labels(self.service).set(1)
        self._failures += 1
        kind = "transient" if is_transient(exc) else "permanent"
        RELAY_FAILURES.labels(self.service, kind).inc()
        if now - self._last_logged >= self.log_every_seconds:
            self._last_logged = now
            (log.warning if kind == "transient" else log.error)(
                "outbox_relay_waiting" if self._failures == 1 else "outbox_relay_still_waiting",
                service=self.service,
                kind=kind,
                error=describe_error(exc),
                waited_seconds=round(now - self._failing_since, 1),
                tries=self._failures,
            )
        exponent = min(self._failures - 1, 16)
        return float(min(self.max_backoff_seconds, max(self.poll_seconds, 0.1) * 2**exponent))

    def _recovered(self) -> None:
        if self._failing_since is None:
            return
        log.info(
            "outbox_relay_recovered",
            service=self.service,
            waited_seconds=round(time.monotonic() - self._failing_since, 1),
            tries=self._failures,
        )
        self._failing_since = None
        self._failures = 0
        self._last_logged = -math.inf
        RELAY_FAILING.labels(self.service).set(0)

    async def publish_batch(self) -> int:
        """Claim, publish and mark one batch; returns how many rows were sent."""
        async with self.engine.begin() as conn:
            rows: Sequence[Any] = (await conn.execute(self._unsent)).all()
            RELAY_BACKLOG.labels(self.service).set(len(rows))
            if not rows:
                return 0
            futures = []
            for row in rows:
                headers = [("id", row.id.encode())]
                headers += [(k, str(v).encode()) for k, v in (row.headers or {}).items()]
                futures.append(
                    await self.producer.send(
                        row.topic,
                        # The payload is an envelope as written by ``add``: sent as it is.
                        value=orjson.dumps(row.payload),
                        key=row.aggregateid.encode(),
                        headers=headers,
                    )
                )
            await asyncio.gather(*futures)
            await self.after_publish(len(rows))
            sent_at: datetime = utcnow()
            await conn.execute(self._mark_sent, {"seqs": [r.seq for r in rows], "sent_at": sent_at})
        RELAY_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def after_publish(self, count: int) -> None:
        """Called between publishing a batch and marking it sent (a seam for crash tests)."""

    async def unsent_count(self) -> int:
        async with self.engine.connect() as conn:
            stmt = (
                select(func.count()).select_from(self.table).where(self.table.c.sent_at.is_(None))
            )
            return int((await conn.execute(stmt)).scalar_one())
