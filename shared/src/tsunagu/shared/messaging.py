"""Idempotent consumption: inbox table, retries, dead-letter queue, commit after the DB.

Every consumer in every service is registered through ``subscribe``. For each message:
1. parse the envelope; an unreadable message, or a schema version newer than the handler reads,
   goes straight to ``<topic>.dlq`` (retrying cannot fix it);
2. in one database transaction, record ``(consumer, event_id)`` in the inbox and apply the effect;
   an event already in the inbox is skipped, so redelivery and replay change nothing;
3. a failure is either transient or permanent (``tsunagu.shared.faults``, ADR 9):
   - transient (the database or the broker faltered: connection refused or dropped, server
     starting or shutting down, too many connections, a timeout, a retriable Kafka error) is
     waited out without limit and never dead-lettered: the partition is sought back to the
     record, the consumer backs off (doubling, capped) and fetches it again; it logs once a
     minute, counts ``tsunagu_consumer_transient_faults_total``, sets
     ``tsunagu_consumer_waiting`` and reports not-ready meanwhile;
   - ``PermanentError``, an invalid event's data, goes to the DLQ at once; any other error is
     retried with backoff a bounded number of times, then dead-lettered with its error and
     origin (topic, partition, offset);
4. only then is the Kafka offset committed (FastStream's ack policy is MANUAL): never past a
   record that was neither applied nor dead-lettered. If publishing the dead letter fails, the
   record is treated like a transient fault: sought back and tried again.

Records come in batches (one fetch, up to ``max_records``): a batch is applied in one
transaction and its offsets committed once, which saves a round trip per record; if anything in
the batch fails, its records are applied one at a time as above.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.shared.contracts.envelope import Envelope, utcnow
from tsunagu.shared.contracts.topics import DLQ_SUFFIX
from tsunagu.shared.faults import is_transient
from tsunagu.shared.logs import bind_ids, clear_ids, describe_error, get_logger

log = get_logger(__name__)

CONSUMED = Counter(
    "tsunagu_consumer_messages_total",
    "Messages handled by a consumer, by outcome",
    ["consumer", "topic", "outcome"],
)
TRANSIENT = Counter(
    "tsunagu_consumer_transient_faults_total",
    "Tries of a consumer stopped by a transient fault (database, connection, broker)",
    ["consumer", "error"],
)
WAITING = Gauge(
    "tsunagu_consumer_waiting",
    "1 while a consumer waits out a transient fault, its partitions held where they are",
    ["consumer"],
)
DLQ_PUBLISH_FAILED = Counter(
    "tsunagu_consumer_dlq_publish_failures_total",
    "Dead letters that could not be published (the record is tried again, not skipped)",
    ["consumer", "topic"],
)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
#: Which of these events (their ids) are to be recorded but not applied; one query per batch.
Skip = Callable[[AsyncSession, list[Envelope]], Awaitable[set[str]]]
#: Reads what a batch's events will need, once, inside the batch's transaction.
Prepare = Callable[[AsyncSession, list[Envelope]], Awaitable[None]]
#: Writes what a batch's handlers left to be written together, before the batch commits.
Finish = Callable[[AsyncSession], Awaitable[None]]


class PermanentError(Exception):
    """The message can never be applied (e.g. an unknown code): dead-letter without retrying."""


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(64), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def create_inbox_table(schema: str) -> None:
    """The migration step that creates the table above in ``schema`` (every service's first
    revision calls it; written out so that an old revision keeps creating what it did)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column(
            "applied_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
        schema=schema,
    )


def drop_inbox_table(schema: str) -> None:
    from alembic import op

    op.drop_table("inbox", schema=schema)


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def dlq_headers(
    consumer: str, origin: Origin, error: str, attempts: int, now: datetime
) -> dict[str, str]:
    return {
        "dlq-consumer": consumer,
        "dlq-error": error[:2000],
        "dlq-origin-topic": origin.topic,
        "dlq-origin-partition": str(origin.partition),
        "dlq-origin-offset": str(origin.offset),
        "dlq-failed-at": now.isoformat(),
        "dlq-attempts": str(attempts),
    }


class TransientFault(Exception):
    """A record could neither be applied nor dead-lettered now (the database or the broker
    faltered): it is to be tried again later, its offset not committed."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


@dataclass
class BatchResult:
    """What became of a fetched batch: ``outcomes`` for its first records, in order; if they
    are fewer than the records, ``fault`` is the transient fault that stopped at the next one."""

    outcomes: list[str]
    fault: BaseException | None = None


class IdempotentConsumer:
    """Applies events once per consumer, with retries and a DLQ; see the module docstring."""

    def __init__(
        self,
        *,
        broker: KafkaBroker,
        sessions: async_sessionmaker[AsyncSession],
        inbox: Table,
        consumer: str,
        handlers: dict[str, Handler],
        max_schema_version: int = 1,
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        log_every_seconds: float = 60.0,
        skip: Skip | None = None,
        skip_changed_by: frozenset[str] = frozenset(),
        prepare: Prepare | None = None,
        finish: Finish | None = None,
    ) -> None:
        """``skip`` names the events of a batch that are recorded in the inbox but not applied
        (e.g. events of an erased case), asked once per batch; after applying an event whose
        type is in ``skip_changed_by`` it is asked again for the rest of the batch.

        ``prepare`` is called once per batch applied in one transaction, before its handlers,
        with the events about to be applied: to read what they need in one query instead of
        one per event (ADR 22). The handlers must be correct without it: a record applied on
        its own is not prepared. ``finish`` is called after the handlers of such a batch, still
        in its transaction: to write what they left for the whole batch (ADR 22)."""
        self.broker = broker
        self.sessions = sessions
        self.inbox = inbox
        self._record_statement = insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)
        self.consumer = consumer
        self.handlers = handlers
        self.max_schema_version = max_schema_version
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.log_every_seconds = log_every_seconds
        self.skip = skip
        self.skip_changed_by = skip_changed_by
        self.prepare = prepare
        self.finish = finish
        self._waiting_since: float | None = None
        self._waits = 0
        self._last_logged = -math.inf

    # --- waiting out a transient fault ------------------------------------------------------

    @property
    def waiting(self) -> bool:
        """True while a transient fault holds this consumer up (readiness says not ready)."""
        return self._waiting_since is not None

    def backoff(self) -> float:
        """The pause before the next try: doubling from ``backoff_seconds``, capped."""
        exponent = min(max(self._waits - 1, 0), 16)
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2**exponent))

    async def wait_out(self, fault: BaseException) -> None:
        """Count, log (at most once every ``log_every_seconds``) and pause before a retry."""
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
            self._waits = 0
            WAITING.labels(self.consumer).set(1)
        self._waits += 1
        error = type(fault).__name__
        TRANSIENT.labels(self.consumer, error).inc()
        if now - self._last_logged >= self.log_every_seconds:
            self._last_logged = now
            log.warning(
                "consumer_waiting_out_transient_fault",
                consumer=self.consumer,
                error=error,
                cause=_transient_cause(fault),
                waited_seconds=round(now - self._waiting_since, 1),
                tries=self._waits,
            )
        await asyncio.sleep(self.backoff())

    def recovered(self) -> None:
        if self._waiting_since is None:
            return
        log.info(
            "consumer_recovered",
            consumer=self.consumer,
            waited_seconds=round(time.monotonic() - self._waiting_since, 1),
            tries=self._waits,
        )
        self._waiting_since = None
        self._waits = 0
        self._last_logged = -math.inf
        WAITING.labels(self.consumer).set(0)

    # --- applying records ---------------------------------------------------------------------

    async def handle(self, origin: Origin) -> str:
        """Handle one record; returns the outcome. The caller commits the offset afterwards.

        Raises ``TransientFault`` if the record was neither applied nor dead-lettered."""
        try:
            envelope = Envelope.from_bytes(origin.value)
        except ValidationError as exc:
            await self.dead_letter(origin, f"unreadable envelope: {_short(exc)}", 1)
            return "dead_lettered"
        if envelope.schema_version > self.max_schema_version:
            reason = (
                f"schema_version {envelope.schema_version} is newer than "
                f"{self.max_schema_version}, which {self.consumer} reads"
            )
            await self.dead_letter(origin, reason, 1)
            return "dead_lettered"
        handler = self.handlers.get(envelope.event_type)
        bind_ids(correlation_id=envelope.correlation_id, case_id=_key(origin))
        try:
            return await self._apply_with_retries(origin, envelope, handler)
        finally:
            clear_ids()

    async def handle_batch(self, origins: list[Origin]) -> BatchResult:
        """Apply a fetched batch in one transaction; if anything in it fails, apply the records
        one at a time (with their own retries and dead-lettering) instead. A transient fault
        stops the batch where it struck: the records from there on are tried again later."""
        parsed: list[tuple[Origin, Envelope]] = []
        for origin in origins:
            try:
                envelope = Envelope.from_bytes(origin.value)
            except ValidationError:
                break
            if envelope.schema_version > self.max_schema_version:
                break
            parsed.append((origin, envelope))
        if len(parsed) == len(origins) > 1:
            try:
                return BatchResult(await self._apply_batch(parsed))
            except Exception as exc:
                if is_transient(exc) and not isinstance(exc, PermanentError):
                    return BatchResult([], exc)
                log.info("batch_applied_one_by_one", size=len(origins), error=type(exc).__name__)
        outcomes: list[str] = []
        for origin in origins:
            try:
                outcomes.append(await self.handle(origin))
            except TransientFault as fault:
                return BatchResult(outcomes, fault.cause)
        return BatchResult(outcomes)

    async def _apply_batch(self, batch: list[tuple[Origin, Envelope]]) -> list[str]:
        outcomes: list[str] = []
        async with self.sessions() as session, session.begin():
            # The whole batch goes into the inbox in one statement; what comes back is what
            # this consumer has not applied before (an id twice in the batch comes back once).
            fresh = await self._record(session, [envelope for _, envelope in batch])
            todo = [e for _, e in batch if e.event_id in fresh and e.event_type in self.handlers]
            skipped = await self._skipped(session, todo)
            if self.prepare is not None:
                applying = {e.event_id: e for e in todo if e.event_id not in skipped}
                await self.prepare(session, list(applying.values()))
            for index, (origin, envelope) in enumerate(batch):
                if envelope.event_id not in fresh:
                    outcomes.append("duplicate")
                    continue
                fresh.discard(envelope.event_id)
                handler = self.handlers.get(envelope.event_type)
                if handler is None or envelope.event_id in skipped:
                    # an event type this consumer has no interest in, or one to skip
                    outcomes.append("ignored")
                    continue
                bind_ids(correlation_id=envelope.correlation_id, case_id=_key(origin))
                try:
                    await handler(session, envelope)
                finally:
                    clear_ids()
                outcomes.append("applied")
                if envelope.event_type in self.skip_changed_by:
                    rest = [e for _, e in batch[index + 1 :] if e.event_id in fresh]
                    skipped = await self._skipped(session, rest)
            if self.finish is not None:
                await self.finish(session)
        return outcomes

    async def _skipped(self, session: AsyncSession, envelopes: list[Envelope]) -> set[str]:
        if self.skip is None or not envelopes:
            return set()
        return await self.skip(session, envelopes)

    async def _apply_with_retries(
        self, origin: Origin, envelope: Envelope, handler: Handler | None
    ) -> str:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._apply_once(envelope, handler)
            except PermanentError as exc:
                await self.dead_letter(origin, f"{type(exc).__name__}: {exc}", attempt)
                return "dead_lettered"
            except Exception as exc:
                if isinstance(exc, ValidationError):
                    error = f"invalid {envelope.event_type} data: {_short(exc)}"
                    await self.dead_letter(origin, error, attempt)
                    return "dead_lettered"
                if is_transient(exc):
                    # The database or the broker, not the event: wait it out, never DLQ it.
                    raise TransientFault(exc) from exc
                log.warning(
                    "consumer_attempt_failed",
                    consumer=self.consumer,
                    event_type=envelope.event_type,
                    attempt=attempt,
                    error=describe_error(exc),
                )
                if attempt >= self.max_attempts:
                    # Class and SQLSTATE only: the message may quote what a resident typed.
                    await self.dead_letter(origin, describe_error(exc), attempt)
                    return "dead_lettered"
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))

    async def _apply_once(self, envelope: Envelope, handler: Handler | None) -> str:
        async with self.sessions() as session, session.begin():
            return await self._record_and_apply(session, envelope, handler)

    async def _record_and_apply(
        self, session: AsyncSession, envelope: Envelope, handler: Handler | None
    ) -> str:
        if not await self._record(session, [envelope]):
            return "duplicate"
        if handler is None:
            return "ignored"  # an event type this consumer has no interest in
        if await self._skipped(session, [envelope]):
            return "ignored"
        await handler(session, envelope)
        return "applied"

    async def _record(self, session: AsyncSession, envelopes: list[Envelope]) -> set[str]:
        """Add the events to the inbox; returns the ids that were not in it yet.

        One statement with a row per event, given as an executemany of one cached statement
        (SQLAlchemy writes it as one multi-row ``INSERT``): ``insert().values([...])`` is
        compiled afresh at every call (no cache key), which was a tenth of a consumer's CPU."""
        recorded = await session.execute(
            self._record_statement,
            [
                {
                    "consumer": self.consumer,
                    "event_id": envelope.event_id,
                    "event_type": envelope.event_type,
                }
                for envelope in envelopes
            ],
        )
        return set(recorded.scalars())

    async def dead_letter(self, origin: Origin, error: str, attempts: int) -> None:
        """Publish the record to ``<topic>.dlq``; raises ``TransientFault`` if that fails (the
        record is then neither applied nor dead-lettered, and is tried again later)."""
        headers = dlq_headers(self.consumer, origin, error, attempts, utcnow())
        for name, value in origin.headers:
            if name not in headers:
                headers[name] = value.decode(errors="replace")
        try:
            await self.broker.publish(
                origin.value,
                topic=origin.topic + DLQ_SUFFIX,
                key=origin.key,
                headers=headers,
            )
        except Exception as exc:
            DLQ_PUBLISH_FAILED.labels(self.consumer, origin.topic).inc()
            raise TransientFault(exc) from exc
        log.error(
            "message_dead_lettered",
            consumer=self.consumer,
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
            error=error[:300],
        )


def subscribe(
    consumer: IdempotentConsumer,
    topics: Iterable[str],
    *,
    group_id: str | None = None,
    max_records: int = 50,
    max_poll_interval_ms: int = 300_000,
    linger_ms: int = 0,
) -> Any:
    """Register the consumer on its broker with manual commits after the database commit.

    Records arrive in batches of up to ``max_records`` (in partition order); the offsets of a
    batch are committed once every record in it is applied or dead-lettered. ``max_records``
    times the retry budget of one record stays well below ``max_poll_interval_ms``. A consumer
    off a case's way to its programmes lingers ``linger_ms`` after the first records of a
    batch that is not full, for more to join it (ADR 30).

    Nothing escapes the batch handler: if the batch stopped at a record (a transient fault, or
    an error in this machinery itself), each partition is sought back to its first record not
    done, so the next fetch brings it again and no later commit can pass it. The wait between
    tries happens here, one backoff at a time, so the consumer keeps polling (and keeps its
    partitions) however long the fault lasts.
    """

    async def on_batch(msg: KafkaMessage) -> None:
        records: Any = msg.raw_message
        origins = [
            Origin(
                topic=raw.topic,
                partition=raw.partition,
                offset=raw.offset,
                key=raw.key,
                value=raw.value or b"",
                headers=tuple(raw.headers or ()),
            )
            for raw in records
        ]
        if not origins:
            return
        try:
            result = await consumer.handle_batch(origins)
        except Exception as exc:  # a fault of the machinery itself: retry, never skip
            log.exception("consumer_batch_failed", consumer=consumer.consumer)
            result = BatchResult([], exc)
        for origin, outcome in zip(origins, result.outcomes, strict=False):
            CONSUMED.labels(consumer.consumer, origin.topic, outcome).inc()
        rewind(msg, origins[len(result.outcomes) :], consumer.consumer)
        if result.fault is not None:
            await consumer.wait_out(result.fault)
        else:
            consumer.recovered()
        if result.outcomes:
            try:
                # Commits each partition's position: past what was done, and no further than
                # the first record not done (the seek above put it there).
                await msg.ack()
            except Exception as exc:
                # Not committed: the records come again and the inbox skips them.
                log.warning("consumer_commit_failed", consumer=consumer.consumer,
                            error=type(exc).__name__)  # fmt: skip

    on_batch.__name__ = f"{consumer.consumer}_consumer"
    subscriber = consumer.broker.subscriber(
        *topics,
        group_id=group_id or consumer.consumer,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=IDLE_FETCH_MS,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        max_poll_interval_ms=max_poll_interval_ms,
        title=f"{consumer.consumer}:{','.join(topics)}",
    )
    handler = subscriber(on_batch)
    fetch_without_idle_sleep(subscriber, max_records, linger_ms)
    return handler


#: How long one fetch waits for records when none are buffered (it returns at the first one).
IDLE_FETCH_MS = 500

#: How long a consumer off a case's way to its programmes (a read model, the report facts, the
#: food desk, residents' own messages) lets a batch gather after its first records (ADR 30).
#: Longer than a case takes from intake to its teams' mail at light load, so that work waits
#: until the referral's hops are done instead of sharing the cores with them; far shorter than
#: anyone looking at a screen would notice.
OFF_PATH_LINGER_MS = 100


def fetch_without_idle_sleep(subscriber: Any, max_records: int, linger_ms: int = 0) -> None:
    """Fetch batches without FastStream's pause after an empty fetch (ADR 22), lingering
    ``linger_ms`` after the first records of a batch that is not full (ADR 30).

    FastStream's batch subscriber sleeps ``batch_timeout_ms`` after ``getmany`` came back empty,
    although ``getmany`` has already waited that long for records and returns as soon as one
    arrives. A record arriving during that sleep waited up to the whole pause: at light load
    every hop cost a random 0 to 100 ms. Here an empty fetch is followed by the next fetch at
    once; only a fetch that came back empty without waiting (a rebalance) pauses briefly, so an
    idle consumer never spins.
    """
    if isinstance(subscriber, BatchSubscriber):
        subscriber.get_msg = batch_fetcher(max_records, linger_ms)  # type: ignore[method-assign,assignment]


def batch_fetcher(
    max_records: int, linger_ms: int = 0
) -> Callable[[Any], Awaitable[tuple[Any, ...]]]:
    """The subscriber's fetch of one batch from an aiokafka consumer (see above).

    With ``linger_ms``, a batch that came back with fewer than ``max_records`` is held that
    long, then topped up with what the consumer fetched meanwhile (without waiting again).
    Nothing is committed before the batch is applied, so a crash while lingering loses
    nothing: the records come again."""
    linger = linger_ms / 1000

    async def get_msg(kafka: Any) -> tuple[Any, ...]:
        started = time.monotonic()
        fetched = await kafka.getmany(timeout_ms=IDLE_FETCH_MS, max_records=max_records)
        if not fetched:
            if time.monotonic() - started < 0.01:
                await asyncio.sleep(0.05)
            return ()
        records = list(chain.from_iterable(fetched.values()))
        if linger and len(records) < max_records:
            await asyncio.sleep(linger)
            more = await kafka.getmany(timeout_ms=0, max_records=max_records - len(records))
            records.extend(chain.from_iterable(more.values()))
        return tuple(records)

    return get_msg


def rewind(msg: KafkaMessage, undone: list[Origin], consumer: str) -> None:
    """Seek each partition of ``undone`` back to its earliest record."""
    earliest: dict[tuple[str, int], int] = {}
    for origin in undone:
        where = (origin.topic, origin.partition)
        earliest[where] = min(origin.offset, earliest.get(where, origin.offset))
    for (topic, partition), offset in earliest.items():
        try:
            msg.consumer.seek(TopicPartition(topic, partition), offset)
        except Exception as exc:
            # The partition was taken away meanwhile: its next owner starts from the last
            # commit, which is not past this record either.
            log.warning("consumer_seek_failed", consumer=consumer, topic=topic,
                        partition=partition, error=type(exc).__name__)  # fmt: skip


def _transient_cause(exc: BaseException) -> str:
    """The innermost exception's type name (never its message, which may hold data)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return type(exc).__name__


def _key(origin: Origin) -> str | None:
    return origin.key.decode(errors="replace") if origin.key else None


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
