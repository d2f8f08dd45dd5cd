"""The messaging discipline on a real Kafka broker and a real PostgreSQL.

Service A writes a row and an outbox event in one transaction; the relay publishes; service B's
idempotent consumer applies it once, dead-letters what it cannot apply, and keeps flowing.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from probe import Consumer, ProbeA, ProbeB, create_schema, eventually, write_greeting
from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.shared.broker import PRODUCER_OPTIONS, create_producer
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.db import create_engine, session_factory
from tsunagu.shared.kafka_admin import create_topics
from tsunagu.shared.messaging import PermanentError
from tsunagu.shared.outbox import OutboxRelay, OutboxWriter
from tsunagu.shared.testing import read_records

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    name = f"probe.{uuid.uuid4().hex[:8]}.v1"
    # Probe topics are not in the registry; give them partitions explicitly.
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from tsunagu.shared.contracts import topics as registry

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, 3, 1), NewTopic(name + registry.DLQ_SUFFIX, 1, 1)]
        )
    finally:
        await admin.close()
    await create_topics(kafka_bootstrap, [])  # waits for the broker, creates nothing
    return name


@pytest.fixture
async def probes(test_settings, database_url: str) -> AsyncIterator[tuple[ProbeA, ProbeB, object]]:
    a, b = ProbeA(), ProbeB()
    engine_a = create_engine(database_url, "probe_a", 5)
    engine_b = create_engine(database_url, "probe_b", 5)
    await create_schema(engine_a, a.tables)
    await create_schema(engine_b, b.tables)
    await engine_b.dispose()
    yield a, b, engine_a
    await engine_a.dispose()


def relay_for(engine, probe: ProbeA, producer, database_url: str) -> OutboxRelay:
    return OutboxRelay(
        engine=engine, table=probe.tables.outbox, producer=producer, service="probe_a",
        database_url=database_url, poll_seconds=0.2,
    )  # fmt: skip


async def test_outbox_event_is_published_and_applied_once(
    test_settings, database_url, kafka_bootstrap, topic, probes
):
    a, b, engine_a = probes
    consumer = Consumer(test_settings("probe_b"), b, topic)
    producer = create_producer(test_settings("probe_a"))
    await producer.start()
    relay = relay_for(engine_a, a, producer, database_url)
    await consumer.start()
    await relay.start()
    try:
        greeting_id = str(uuid.uuid4())
        await write_greeting(engine_a, a, topic, greeting_id)
        await eventually(lambda: _eq(consumer.applied(greeting_id), 1))
        assert await relay.unsent_count() == 0
        await asyncio.sleep(1.0)  # nothing more arrives
        assert await consumer.applied() == 1
        published = await read_records(kafka_bootstrap, topic)
        assert len(published) == 1
        assert published[0].key == greeting_id.encode()
        assert (
            dict(published[0].headers)["id"]
            == Envelope.from_bytes(published[0].value).event_id.encode()
        )
    finally:
        await relay.stop()
        await producer.stop()
        await consumer.stop()


async def test_same_event_delivered_twice_has_one_effect(
    test_settings, kafka_bootstrap, topic, probes
):
    _, b, _ = probes
    consumer = Consumer(test_settings("probe_b"), b, topic)
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    try:
        env = Envelope(event_type="greeting_written", producer="probe_a", data={"id": "twice"})
        for _ in range(2):
            await producer.send_and_wait(topic, env.to_bytes(), key=b"twice")
        marker = Envelope(event_type="greeting_written", producer="probe_a", data={"id": "after"})
        await producer.send_and_wait(topic, marker.to_bytes(), key=b"twice")
        await eventually(lambda: _eq(consumer.applied("after"), 1))
        assert await consumer.applied("twice") == 1
    finally:
        await producer.stop()
        await consumer.stop()


async def test_relay_killed_after_publish_before_marking_loses_nothing(
    test_settings, database_url, kafka_bootstrap, topic, probes
):
    a, b, engine_a = probes
    greeting_id = str(uuid.uuid4())
    await write_greeting(engine_a, a, topic, greeting_id)

    proc = subprocess.Popen(
        [sys.executable, str(HERE / "relay_that_hangs.py"), database_url, kafka_bootstrap],
        stdout=subprocess.PIPE,
        cwd=HERE,
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout=60)
        assert line.startswith(b"published 1")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    # The event is on Kafka, but the outbox still holds it as unsent.
    assert len(await read_records(kafka_bootstrap, topic)) == 1
    producer = create_producer(test_settings("probe_a"))
    await producer.start()
    relay = relay_for(engine_a, a, producer, database_url)
    assert await relay.unsent_count() == 1

    consumer = Consumer(test_settings("probe_b"), b, topic)
    await consumer.start()
    await relay.start()
    try:
        await eventually(lambda: _eq(relay.unsent_count(), 0))
        assert len(await read_records(kafka_bootstrap, topic)) == 2  # published again after restart
        await eventually(lambda: _eq(consumer.applied(greeting_id), 1))
        await asyncio.sleep(1.0)
        assert await consumer.applied(greeting_id) == 1  # ...and applied once
    finally:
        await relay.stop()
        await producer.stop()
        await consumer.stop()


async def test_poison_messages_go_to_the_dlq_and_the_partition_keeps_flowing(
    test_settings, kafka_bootstrap, topic, probes
):
    _, b, _ = probes

    def fail_with(env: Envelope) -> Exception | None:
        if env.data["id"] == "always-fails":
            return RuntimeError("database said no")
        if env.data["id"] == "unknown-code":
            return PermanentError("unknown concern code 'flying'")
        return None

    consumer = Consumer(test_settings("probe_b"), b, topic, fail_with=fail_with)
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    key = b"same-partition"
    try:
        newer = Envelope(
            event_type="greeting_written", producer="probe_a", schema_version=2, data={"id": "v2"}
        )
        poison = [
            b"{not json",
            b'{"event_type": "greeting_written"}',
            newer.to_bytes(),
            Envelope(
                event_type="greeting_written", producer="a", data={"id": "always-fails"}
            ).to_bytes(),
            Envelope(
                event_type="greeting_written", producer="a", data={"id": "unknown-code"}
            ).to_bytes(),
        ]
        for value in poison:
            await producer.send_and_wait(topic, value, key=key)
        good = Envelope(event_type="greeting_written", producer="probe_a", data={"id": "good"})
        await producer.send_and_wait(topic, good.to_bytes(), key=key)

        await eventually(lambda: _eq(consumer.applied("good"), 1))
        dead = await read_records(kafka_bootstrap, topic + ".dlq")
        assert [d.value for d in dead] == poison
        headers = [{k: v.decode() for k, v in d.headers} for d in dead]
        assert all(h["dlq-origin-topic"] == topic for h in headers)
        assert all(h["dlq-consumer"] == "probe_b" for h in headers)
        assert "unreadable envelope" in headers[0]["dlq-error"]
        assert "newer" in headers[2]["dlq-error"]
        # Only the error's class: its message may quote what a resident typed.
        assert headers[3]["dlq-error"] == "RuntimeError" and headers[3]["dlq-attempts"] == "3"
        assert "unknown concern code" in headers[4]["dlq-error"]
        assert headers[4]["dlq-attempts"] == "1"  # permanent: not retried
        offsets = [int(h["dlq-origin-offset"]) for h in headers]
        assert offsets == sorted(offsets)
        assert await consumer.applied() == 1
    finally:
        await producer.stop()
        await consumer.stop()


async def test_a_rolled_back_transaction_publishes_nothing(
    test_settings, database_url, kafka_bootstrap, topic, probes
):
    a, _, engine_a = probes
    with pytest.raises(RuntimeError):
        await write_greeting(engine_a, a, topic, str(uuid.uuid4()), fail=True)
    async with engine_a.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(a.greeting))).scalar_one()
    assert rows == 0
    producer = create_producer(test_settings("probe_a"))
    await producer.start()
    relay = relay_for(engine_a, a, producer, database_url)
    try:
        assert await relay.publish_batch() == 0
        assert await relay.unsent_count() == 0
    finally:
        await producer.stop()
    assert await read_records(kafka_bootstrap, topic) == []


async def test_a_transactions_outbox_rows_are_one_insert_in_the_order_they_were_added(
    database_url, topic, probes
):
    """Set-based outbox (ADR 22): the rows wait for the commit and go in with one statement,
    keeping their order; a rolled-back transaction's rows are never written, and a later
    transaction in the same session does not inherit them."""
    a, _, engine_a = probes
    writer = OutboxWriter(a.tables.outbox, producer="probe_a")
    inserts: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PROBE_A.OUTBOX"):
            inserts.append(statement)

    event.listen(engine_a.sync_engine, "before_cursor_execute", count)
    names = [f"g{i}" for i in range(5)]
    try:
        async with session_factory(engine_a)() as session:
            async with session.begin():
                for name in ["lost-1", "lost-2"]:
                    await writer.add(session, topic=topic, aggregatetype="greeting",
                                     aggregateid=name, envelope=writer.envelope("x", {}))  # fmt: skip
                await session.rollback()
            async with session.begin():
                for name in names:
                    envelope = writer.envelope("greeting_written", {"id": name})
                    await writer.add(session, topic=topic, aggregatetype="greeting",
                                     aggregateid=name, envelope=envelope)  # fmt: skip
                assert inserts == [], "nothing written before the commit"
    finally:
        event.remove(engine_a.sync_engine, "before_cursor_execute", count)
    assert len(inserts) == 1
    o = a.tables.outbox
    async with engine_a.connect() as conn:
        rows = (await conn.execute(select(o.c.aggregateid).order_by(o.c.seq))).scalars().all()
    assert rows == names


async def test_two_relays_of_a_service_never_have_two_batches_in_flight(
    test_settings, database_url, kafka_bootstrap, topic, probes
):
    """The service's advisory lock is taken in the statement that reads the rows: while one
    relay holds a batch (published, not yet marked), another reads nothing, even though rows
    wait that neither has claimed; once the first is done, the other takes them."""
    a, _, engine_a = probes
    first_ids = [str(uuid.uuid4()) for _ in range(2)]
    for greeting_id in first_ids:
        await write_greeting(engine_a, a, topic, greeting_id)
    producer = create_producer(test_settings("probe_a"))
    await producer.start()
    holding, release = asyncio.Event(), asyncio.Event()

    class HoldingRelay(OutboxRelay):
        async def after_publish(self, count: int) -> None:
            holding.set()
            await release.wait()

    first = HoldingRelay(engine=engine_a, table=a.tables.outbox, producer=producer,
                         service="probe_a", database_url=database_url, batch_size=2)  # fmt: skip
    second = relay_for(engine_a, a, producer, database_url)
    try:
        in_flight = asyncio.create_task(first.publish_batch())
        await asyncio.wait_for(holding.wait(), 10)
        later = str(uuid.uuid4())
        await write_greeting(engine_a, a, topic, later)  # unclaimed, and still not taken
        assert await second.publish_batch() == 0
        release.set()
        assert await in_flight == 2
        assert await second.publish_batch() == 1
        assert await second.unsent_count() == 0
    finally:
        release.set()
        await producer.stop()
    keys = [r.key.decode() for r in await read_records(kafka_bootstrap, topic)]
    assert sorted(keys) == sorted([*first_ids, later])


async def _eq(value_coro, expected) -> bool:
    return (await value_coro) == expected


async def test_a_failure_inside_a_batch_rolls_the_batch_back_and_applies_the_rest_once(
    test_settings, kafka_bootstrap, topic, probes
):
    _, b, _ = probes

    def fail_with(env: Envelope) -> Exception | None:
        return RuntimeError("constraint violated") if env.data["id"] == "bad" else None

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    key = b"one-batch"
    values = [
        Envelope(event_type="greeting_written", producer="a", data={"id": name}).to_bytes()
        for name in ("before", "bad", "after")
    ]
    try:
        # Written before the consumer starts, so its first fetch holds all three.
        for value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
    consumer = Consumer(test_settings("probe_b"), b, topic, fail_with=fail_with)
    await consumer.start()
    try:
        await eventually(lambda: _eq(consumer.applied("after"), 1))
        assert await consumer.applied("before") == 1, "rolled back with the batch, applied once"
        assert await consumer.applied() == 2
        dead = await read_records(kafka_bootstrap, topic + ".dlq")
        assert [d.value for d in dead] == [values[1]]
    finally:
        await consumer.stop()


async def test_a_batch_holding_an_event_twice_and_an_applied_one_applies_each_once(
    test_settings, kafka_bootstrap, topic, probes
):
    _, b, _ = probes
    earlier = Envelope(event_type="greeting_written", producer="a", data={"id": "earlier"})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    consumer = Consumer(test_settings("probe_b"), b, topic)
    await consumer.start()
    try:
        await producer.send_and_wait(topic, earlier.to_bytes(), key=b"k")
        await eventually(lambda: _eq(consumer.applied("earlier"), 1))
    finally:
        await consumer.stop()
    twice = Envelope(event_type="greeting_written", producer="a", data={"id": "twice"})
    other = Envelope(event_type="not_for_b", producer="a", data={"id": "other"})
    last = Envelope(event_type="greeting_written", producer="a", data={"id": "last"})
    try:
        # Written while nobody consumes, so the next fetch holds them all in one batch.
        for env in (twice, earlier, twice, other, last):
            await producer.send_and_wait(topic, env.to_bytes(), key=b"k")
    finally:
        await producer.stop()
    consumer = Consumer(test_settings("probe_b"), b, topic)
    await consumer.start()
    try:
        await eventually(lambda: _eq(consumer.applied("last"), 1))
        assert await consumer.applied("twice") == 1
        assert await consumer.applied("earlier") == 1
        assert await consumer.applied() == 3
    finally:
        await consumer.stop()


async def test_skip_is_asked_once_per_batch_and_again_after_an_event_that_changes_it(
    test_settings, kafka_bootstrap, topic, probes
):
    """What a consumer skips (e.g. events of an erased case) is one query per batch, not one
    per event; an event that changes the answer (the erasure) is seen by the events after it
    in the same batch."""
    _, b, _ = probes
    asked: list[list[str]] = []

    async def on_erase(session: AsyncSession, env: Envelope) -> None:
        row = {"greeting_id": f"erased:{env.data['case']}"}
        await session.execute(b.applied.insert().values(**row))

    async def skip(session: AsyncSession, envelopes: list[Envelope]) -> set[str]:
        asked.append([e.data["id"] for e in envelopes])
        t = b.applied
        erased = set(
            (
                await session.execute(
                    select(t.c.greeting_id).where(t.c.greeting_id.like("erased:%"))
                )
            ).scalars()
        )
        return {e.event_id for e in envelopes if f"erased:{e.data.get('case')}" in erased}

    def greeting(name: str, case: str) -> Envelope:
        return Envelope(
            event_type="greeting_written", producer="a", data={"id": name, "case": case}
        )

    events = [
        greeting("x1", "x"),
        greeting("y1", "y"),
        Envelope(event_type="case_erased", producer="a", data={"id": "erase-x", "case": "x"}),
        greeting("x2", "x"),
        greeting("y2", "y"),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    try:
        # Written before the consumer starts, so its first fetch holds them all.
        for env in events:
            await producer.send_and_wait(topic, env.to_bytes(), key=b"one-partition")
    finally:
        await producer.stop()
    consumer = Consumer(
        test_settings("probe_b"), b, topic, more_handlers={"case_erased": on_erase},
        skip=skip, skip_changed_by=frozenset({"case_erased"}),
    )  # fmt: skip
    await consumer.start()
    try:
        await eventually(lambda: _eq(consumer.applied("y2"), 1))
        assert await consumer.applied("x1") == 1, "before the erasure: applied"
        assert await consumer.applied("x2") == 0, "after the erasure, in the same batch: skipped"
        assert await consumer.applied("y1") == 1
        assert asked == [["x1", "y1", "erase-x", "x2", "y2"], ["x2", "y2"]]
    finally:
        await consumer.stop()


async def test_prepare_and_finish_are_called_once_per_batch_around_its_handlers(
    test_settings, kafka_bootstrap, topic, probes
):
    """A consumer's ``prepare`` reads once per batch what its handlers need (ADR 22): with the
    events about to be applied only (no duplicate, no event it has no handler for, none it
    skips), in the batch's transaction, before the first handler runs."""
    _, b, _ = probes
    prepared: list[list[str]] = []

    async def prepare(session: AsyncSession, envelopes: list[Envelope]) -> None:
        assert session.in_transaction()
        prepared.append([e.data["id"] for e in envelopes])

    async def skip(session: AsyncSession, envelopes: list[Envelope]) -> set[str]:
        return {e.event_id for e in envelopes if e.data["id"] == "skipped"}

    finished: list[int] = []

    async def finish(session: AsyncSession) -> None:
        # After the batch's handlers, in its transaction: their rows are there, uncommitted.
        assert session.in_transaction()
        finished.append(await session.scalar(select(func.count()).select_from(b.applied)))

    def greeting(name: str, event_type: str = "greeting_written") -> Envelope:
        return Envelope(event_type=event_type, producer="a", data={"id": name})

    twice = greeting("twice")
    events = [greeting("g1"), twice, greeting("skipped"), greeting("other", "not_for_b"), twice]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    try:
        # Written before the consumer starts, so its first fetch holds them all.
        for env in [*events, greeting("g2")]:
            await producer.send_and_wait(topic, env.to_bytes(), key=b"one-partition")
    finally:
        await producer.stop()
    consumer = Consumer(
        test_settings("probe_b"), b, topic, skip=skip, prepare=prepare, finish=finish
    )
    await consumer.start()
    try:
        await eventually(lambda: _eq(consumer.applied("g2"), 1))
        assert await consumer.applied() == 3  # g1, twice, g2
        assert prepared == [["g1", "twice", "g2"]]
        assert finished == [3]
    finally:
        await consumer.stop()


async def test_a_batchs_inbox_record_is_one_insert_compiled_once(
    test_settings, kafka_bootstrap, topic, probes
):
    """The inbox rows of a batch go in with one multi-row insert, from SQLAlchemy's compiled
    cache: an ``insert().values([...])`` has no cache key and was compiled afresh for every
    batch (benchmarks/README.md), and the events are still applied once each."""
    _, b, _ = probes
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    names = [f"n{i}" for i in range(6)]
    try:
        # Written while nobody consumes, so that a fetch holds more than one.
        for name in names:
            envelope = Envelope(event_type="greeting_written", producer="a", data={"id": name})
            await producer.send_and_wait(topic, envelope.to_bytes(), key=b"k")
    finally:
        await producer.stop()
    consumer = Consumer(test_settings("probe_b"), b, topic)
    inbox_inserts: list[tuple[int, bool]] = []  # (rows, compiled without a cache key)

    def watch(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PROBE_B.INBOX"):
            rows = statement.upper().count("$") // 3
            inbox_inserts.append((rows, context.cache_hit is CacheStats.NO_CACHE_KEY))

    event.listen(consumer.engine.sync_engine, "after_cursor_execute", watch)
    await consumer.start()
    try:
        await eventually(lambda: _eq(consumer.applied(), len(names)))
        assert await consumer.applied() == len(names)
    finally:
        await consumer.stop()
        event.remove(consumer.engine.sync_engine, "after_cursor_execute", watch)
    assert inbox_inserts, "the consumer recorded its events"
    assert not [i for i in inbox_inserts if i[1]], "an inbox insert was compiled at every call"
    assert max(rows for rows, _ in inbox_inserts) > 1, "a batch's rows went in one statement"
    assert sum(rows for rows, _ in inbox_inserts) >= len(names)
