"""Idempotent consumption: inbox table, bounded retries, dead-letter queue, commit after the DB.

Every consumer in every service is registered through ``subscribe``. For each message:
1. parse the envelope; an unreadable message, or a schema version newer than the handler reads,
   goes straight to ``<topic>.dlq`` (retrying cannot fix it);
2. in one database transaction, record ``(consumer, event_id)`` in the inbox and apply the effect;
   an event already in the inbox is skipped, so redelivery and replay change nothing;
3. a failing handler is retried with backoff, a bounded number of times, then the message goes to
   the DLQ with its error and origin (topic, partition, offset);
4. only then is the Kafka offset committed (FastStream's ack policy is MANUAL: never commit a
   message that was neither applied nor dead-lettered).

Records come in batches (one fetch, up to ``max_records``): a batch is applied in one
transaction and its offsets committed once, which saves a round trip per record; if anything in
the batch fails, its records are applied one at a time as above.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.shared.contracts.envelope import Envelope, utcnow
from tsunagu.shared.contracts.topics import DLQ_SUFFIX
from tsunagu.shared.logs import bind_ids, clear_ids, get_logger

log = get_logger(__name__)

CONSUMED = Counter(
    "tsunagu_consumer_messages_total",
    "Messages handled by a consumer, by outcome",
    ["consumer", "topic", "outcome"],
)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]


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
    ) -> None:
        self.broker = broker
        self.sessions = sessions
        self.inbox = inbox
        self.consumer = consumer
        self.handlers = handlers
        self.max_schema_version = max_schema_version
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds

    async def handle(self, origin: Origin) -> str:
        """Handle one record; returns the outcome. The caller commits the offset afterwards."""
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

    async def handle_batch(self, origins: list[Origin]) -> list[str]:
        """Apply a fetched batch in one transaction; if anything in it fails, apply the records
        one at a time (with their own retries and dead-lettering) instead."""
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
                return await self._apply_batch(parsed)
            except Exception as exc:
                log.info("batch_applied_one_by_one", size=len(origins), error=type(exc).__name__)
        return [await self.handle(origin) for origin in origins]

    async def _apply_batch(self, batch: list[tuple[Origin, Envelope]]) -> list[str]:
        outcomes: list[str] = []
        async with self.sessions() as session, session.begin():
            # The whole batch goes into the inbox in one statement; what comes back is what
            # this consumer has not applied before (an id twice in the batch comes back once).
            fresh = await self._record(session, [envelope for _, envelope in batch])
            for origin, envelope in batch:
                if envelope.event_id not in fresh:
                    outcomes.append("duplicate")
                    continue
                fresh.discard(envelope.event_id)
                handler = self.handlers.get(envelope.event_type)
                if handler is None:
                    outcomes.append("ignored")  # an event type this consumer has no interest in
                    continue
                bind_ids(correlation_id=envelope.correlation_id, case_id=_key(origin))
                try:
                    await handler(session, envelope)
                finally:
                    clear_ids()
                outcomes.append("applied")
        return outcomes

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
                log.warning(
                    "consumer_attempt_failed",
                    consumer=self.consumer,
                    event_type=envelope.event_type,
                    attempt=attempt,
                    error=type(exc).__name__,
                )
                if attempt >= self.max_attempts:
                    detail = "".join(traceback.format_exception_only(exc)).strip()
                    await self.dead_letter(origin, detail, attempt)
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
        await handler(session, envelope)
        return "applied"

    async def _record(self, session: AsyncSession, envelopes: list[Envelope]) -> set[str]:
        """Add the events to the inbox; returns the ids that were not in it yet."""
        recorded = await session.execute(
            insert(self.inbox)
            .values(
                [
                    {
                        "consumer": self.consumer,
                        "event_id": envelope.event_id,
                        "event_type": envelope.event_type,
                    }
                    for envelope in envelopes
                ]
            )
            .on_conflict_do_nothing()
            .returning(self.inbox.c.event_id)
        )
        return set(recorded.scalars())

    async def dead_letter(self, origin: Origin, error: str, attempts: int) -> None:
        headers = dlq_headers(self.consumer, origin, error, attempts, utcnow())
        for name, value in origin.headers:
            if name not in headers:
                headers[name] = value.decode(errors="replace")
        await self.broker.publish(
            origin.value,
            topic=origin.topic + DLQ_SUFFIX,
            key=origin.key,
            headers=headers,
        )
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
) -> Any:
    """Register the consumer on its broker with manual commits after the database commit.

    Records arrive in batches of up to ``max_records`` (in partition order); the offsets of a
    batch are committed once every record in it is applied or dead-lettered. ``max_records``
    times the retry budget of one record stays well below ``max_poll_interval_ms``.
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
        outcomes = await consumer.handle_batch(origins)
        for origin, outcome in zip(origins, outcomes, strict=True):
            CONSUMED.labels(consumer.consumer, origin.topic, outcome).inc()
        await msg.ack()

    on_batch.__name__ = f"{consumer.consumer}_consumer"
    return consumer.broker.subscriber(
        *topics,
        group_id=group_id or consumer.consumer,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=100,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        max_poll_interval_ms=max_poll_interval_ms,
        title=f"{consumer.consumer}:{','.join(topics)}",
    )(on_batch)


def _key(origin: Origin) -> str | None:
    return origin.key.decode(errors="replace") if origin.key else None


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
