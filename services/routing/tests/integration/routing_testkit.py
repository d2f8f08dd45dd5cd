"""Helpers for routing's integration tests: a clock to advance, intake's envelopes, a tap that
reads what routing publishes, and barriers that wait until everything has been handled."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import select

from tsunagu.routing.bootstrap import RoutingRuntime
from tsunagu.shared import testing
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.envelope import Envelope, utcnow
from tsunagu.shared.testing import partitions_of

CASE_TOPIC = "intake.case.v1"
RESPONSE_TOPIC = "intake.referral_response.v1"
INPUT_TOPICS = (CASE_TOPIC, RESPONSE_TOPIC)


@dataclass
class FakeClock:
    """The routing clock in tests: starts at real time, moves only when told."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


# --- intake's events ------------------------------------------------------------------------


def new_case_id() -> str:
    return f"case-{uuid.uuid4().hex[:16]}"


def case_created(
    concerns: list[str],
    *,
    most_pressing: str | None = None,
    age: int | None = None,
    basis: str = "consent",
    case_id: str | None = None,
    **flags: bool,
) -> Envelope:
    """A valid case_created as intake publishes it; ``flags`` are the resident's and urgent flags."""
    case_id = case_id or new_case_id()
    urgent = {k: flags.pop(k) for k in ("no_food_today", "eviction_within_7_days") if k in flags}
    case = intake.CaseCreated(
        case_id=case_id,
        case_number=f"K-{case_id[-8:]}",
        event_id="2026-01-aeon-kawaguchi",
        venue_id="aeon-kawaguchi",
        household_id=f"hh-{case_id}",
        resident_id=f"res-{case_id}",
        taken_by="intake-staff",
        facts=intake.CaseFacts(
            concerns=concerns, most_pressing=most_pressing, age=age, urgent=urgent, **flags
        ),
        consent=intake.Consent(
            share_across_programmes=basis != "none", basis=basis, contact_channels=["phone"]
        ),
        contact_sealed="sealed-contact-details",
        kana_sealed=f"rk1:res-{case_id}:kana:sealed-furigana",
        venue_name="イオンモール川口",
        created_at=utcnow(),
        event_date=date(2026, 1, 17),
    )
    return Envelope(
        event_type=intake.CASE_CREATED, producer="intake", data=case.model_dump(mode="json")
    )


def case_updated(
    case_id: str, concerns: list[str], *, most_pressing: str | None = None, **flags: bool
) -> Envelope:
    """A correction of the case's facts, as intake publishes it after ``PATCH``."""
    urgent = {k: flags.pop(k) for k in ("no_food_today", "eviction_within_7_days") if k in flags}
    update = intake.CaseUpdated(
        case_id=case_id,
        facts=intake.CaseFacts(
            concerns=concerns, most_pressing=most_pressing, urgent=urgent, **flags
        ),
        updated_by="intake-staff",
    )
    return Envelope(
        event_type=intake.CASE_UPDATED, producer="intake", data=update.model_dump(mode="json")
    )


def consent_changed(case_id: str, basis: str, previous: str) -> Envelope:
    change = intake.ConsentChanged(
        case_id=case_id,
        consent=intake.Consent(
            share_across_programmes=basis != "none", basis=basis, contact_channels=["phone"]
        ),
        previous_basis=previous,
        changed_by="intake-staff",
    )
    return Envelope(
        event_type=intake.CONSENT_CHANGED, producer="intake", data=change.model_dump(mode="json")
    )


def referral_response(referral: Any, action: str, **extra: Any) -> Envelope:
    response = intake.ReferralResponseSubmitted(
        case_id=referral["case_id"],
        referral_id=referral["referral_id"],
        programme=referral["programme"],
        action=action,
        staff=extra.pop("staff", "programme-staff"),
        **extra,
    )
    return Envelope(
        event_type=intake.REFERRAL_RESPONSE_SUBMITTED,
        producer="intake",
        data=response.model_dump(mode="json"),
    )


def referral_requested(case_id: str, programme: str, after: str | None = None) -> Envelope:
    """Staff ask for one more referral (on intake's referral-response topic)."""
    data = intake.ReferralRequested(
        case_id=case_id, programme=programme, requested_by="uketsuke", after_referral_id=after
    )
    return Envelope(
        event_type=intake.REFERRAL_REQUESTED, producer="intake", data=data.model_dump(mode="json")
    )


async def publish(
    producer: AIOKafkaProducer,
    envelope: Envelope,
    *,
    topic: str | None = None,
    key: str | None = None,
    partition: int | None = None,
) -> None:
    if topic is None:
        topic = (
            RESPONSE_TOPIC
            if envelope.event_type
            in (intake.REFERRAL_RESPONSE_SUBMITTED, intake.REFERRAL_REQUESTED)
            else CASE_TOPIC
        )
    await testing.publish(
        producer, topic, envelope, key=key or envelope.data["case_id"], partition=partition
    )


# --- waiting --------------------------------------------------------------------------------


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 60.0, interval: float = 0.1
) -> Any:
    """``tsunagu.shared.testing.eventually`` with routing's longer default wait."""
    return await testing.eventually(check, timeout, interval)


# --- what routing publishes -----------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: dict[str, str]

    @property
    def envelope(self) -> Envelope:
        return Envelope.from_bytes(self.value)

    @property
    def event_type(self) -> str:
        return self.envelope.event_type

    @property
    def data(self) -> dict[str, Any]:
        return self.envelope.data


class Tap:
    """Reads topics from the beginning, in the background, without a consumer group (topics
    are shared by the whole test session, so tests filter by their own case ids)."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.records: list[Record] = []
        self.positions: dict[TopicPartition, int] = {}
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._probe.start()
        self.partitions = await partitions_of(self._consumer, self.topics)
        self._consumer.assign(self.partitions)
        await self._consumer.seek_to_beginning(*self.partitions)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # aiokafka may surface the cancelled fetch of a slow broker while closing: it is closed.
        with contextlib.suppress(asyncio.CancelledError):
            await self._consumer.stop()
        await self._probe.stop()

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for tp, messages in batches.items():
                for m in messages:
                    self.records.append(
                        Record(
                            topic=m.topic,
                            partition=m.partition,
                            offset=m.offset,
                            key=(m.key or b"").decode(),
                            value=m.value or b"",
                            headers={k: v.decode() for k, v in m.headers or ()},
                        )
                    )
                    self.positions[tp] = m.offset + 1

    def find(
        self,
        case_ids: str | set[str] | list[str],
        *,
        topic: str | None = None,
        event_type: str | None = None,
    ) -> list[Record]:
        ids = {case_ids} if isinstance(case_ids, str) else set(case_ids)
        return [
            r
            for r in list(self.records)
            if r.key in ids
            and (topic is None or r.topic == topic)
            and (event_type is None or r.event_type == event_type)
        ]

    async def wait_for(
        self,
        case_ids: str | set[str] | list[str],
        count: int,
        *,
        topic: str | None = None,
        event_type: str | None = None,
    ) -> list[Record]:
        async def enough() -> list[Record] | None:
            found = self.find(case_ids, topic=topic, event_type=event_type)
            return found if len(found) >= count else None

        return await eventually(enough)

    async def sync(self) -> None:
        """Wait until everything on the tapped topics right now has been read."""
        end = await self._probe.end_offsets(self.partitions)

        async def caught_up() -> bool:
            return all(self.positions.get(tp, 0) >= offset for tp, offset in end.items())

        await eventually(caught_up)

    async def consumed(self, group: str, topics: tuple[str, ...] = INPUT_TOPICS) -> None:
        """Wait until ``group`` has committed everything on ``topics`` right now."""
        partitions = await partitions_of(self._probe, list(topics))
        end = await self._probe.end_offsets(partitions)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:

            async def committed_all() -> bool:
                committed = await admin.list_consumer_group_offsets(group)
                return all(
                    end[tp] == 0 or (tp in committed and committed[tp].offset >= end[tp])
                    for tp in partitions
                )

            await eventually(committed_all, interval=0.2)
        finally:
            await admin.close()


async def rewind(bootstrap: str, group: str, topics: tuple[str, ...] = INPUT_TOPICS) -> None:
    """Set ``group``'s committed offsets back to the beginning (the group must be idle)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, list(topics))
        consumer.assign(partitions)
        await consumer.commit({tp: 0 for tp in partitions})
        for tp in partitions:
            assert await consumer.committed(tp) == 0
    finally:
        await consumer.stop()


# --- routing's database ---------------------------------------------------------------------


async def referrals_of(runtime: RoutingRuntime, case_id: str) -> list[dict[str, Any]]:
    r = runtime.tables.referral
    query = select(r).where(r.c.case_id == case_id)
    async with runtime.sessions() as session:
        rows = (await session.execute(query)).mappings().all()
    order = {"lead": 0, "coordinator": 0, "member": 1}
    return sorted((dict(row) for row in rows), key=lambda x: (order[x["role"]], x["programme"]))


async def snapshot(runtime: RoutingRuntime, case_ids: set[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of routing's business tables about these cases, to compare before and after."""
    t = runtime.tables
    found = {}
    async with runtime.sessions() as session:
        for table in (t.decision, t.referral, t.referral_status_change):
            query = select(table).where(table.c.case_id.in_(case_ids))
            rows = (await session.execute(query.order_by(*table.primary_key))).all()
            found[table.name] = [tuple(row) for row in rows]
    return found


async def routed_cases(runtime: RoutingRuntime) -> set[str]:
    d = runtime.tables.decision
    async with runtime.sessions() as session:
        return set((await session.execute(select(d.c.case_id))).scalars())


async def decision_of(runtime: RoutingRuntime, case_id: str) -> dict[str, Any] | None:
    d = runtime.tables.decision
    async with runtime.sessions() as session:
        row = (await session.execute(select(d).where(d.c.case_id == case_id))).mappings().first()
    return None if row is None else dict(row)


async def settle(runtime: RoutingRuntime, tap: Tap, group: str) -> None:
    """Wait until routing has handled all its input, relayed its outbox, and the tap read it."""
    await tap.consumed(group)
    assert runtime.relay is not None
    await eventually(lambda: _zero(runtime.relay.unsent_count()))
    await tap.sync()


async def _zero(count: Awaitable[int]) -> bool:
    return await count == 0


async def stop_runtime(runtime: RoutingRuntime) -> None:
    await runtime.stop()
    await runtime.engine.dispose()


def assigned(runtime: RoutingRuntime) -> set[TopicPartition]:
    """The partitions this runtime's consumer holds right now."""
    found: set[TopicPartition] = set()
    for subscriber in runtime.broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is not None:
            found |= set(consumer.assignment())
    return found
