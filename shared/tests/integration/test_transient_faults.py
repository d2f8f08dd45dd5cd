"""Transient faults are waited out, never dead-lettered, and no commit passes a record that was
neither applied nor dead-lettered (real Kafka, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid

import pytest
import structlog
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from probe import Consumer, ProbeA, ProbeB, create_schema, eventually, write_greeting
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from test_messaging import _eq

from tsunagu.devstack.proxy import TcpProxy
from tsunagu.shared.broker import PRODUCER_OPTIONS, create_producer
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.db import create_engine
from tsunagu.shared.faults import is_transient
from tsunagu.shared.messaging import TRANSIENT, WAITING, PermanentError
from tsunagu.shared.outbox import RELAY_FAILING, RELAY_FAILURES, OutboxRelay
from tsunagu.shared.testing import read_records

pytestmark = pytest.mark.integration


async def _admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    return admin


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    name = f"probe.{uuid.uuid4().hex[:8]}.v1"
    admin = await _admin(kafka_bootstrap)
    try:
        await admin.create_topics([NewTopic(name, 3, 1), NewTopic(name + ".dlq", 1, 1)])
    finally:
        await admin.close()
    return name


@pytest.fixture
async def probe_b(database_url: str) -> ProbeB:
    b = ProbeB()
    engine = create_engine(database_url, "probe_b", 2)
    await create_schema(engine, b.tables)
    await engine.dispose()
    return b


def greeting(name: str) -> bytes:
    return Envelope(event_type="greeting_written", producer="probe_a", data={"id": name}).to_bytes()


async def test_database_lost_mid_backlog_is_waited_out_and_every_event_applied_once(
    test_settings, database_url, kafka_bootstrap, topic, probe_b
):
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    consumer = Consumer(
        test_settings("probe_b"), probe_b, topic, database_url=proxy.url(database_url)
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    names = [f"g{i}" for i in range(300)]
    faults_before = TRANSIENT.labels("probe_b", "ConnectionRefusedError")._value.get()
    try:
        for name in names[:150]:
            await producer.send(topic, greeting(name), key=name.encode())
        await producer.flush()
        await consumer.start()
        await eventually(lambda: _positive(consumer.applied()))
        # The database goes away mid-backlog, and more events arrive meanwhile.
        await proxy.cut()
        for name in names[150:]:
            await producer.send(topic, greeting(name), key=name.encode())
        await producer.flush()
        await eventually(lambda: _true(consumer.idempotent.waiting), timeout=20)
        held = await consumer.applied()
        await asyncio.sleep(4)  # several tries, each refused
        assert consumer.idempotent.waiting, "still waiting: nothing was skipped or dead-lettered"
        assert WAITING.labels("probe_b")._value.get() == 1
        assert await consumer.applied() == held
        assert await read_records(kafka_bootstrap, topic + ".dlq") == []

        await proxy.restore()
        await eventually(lambda: _eq(consumer.applied(), len(names)), timeout=60)
        await asyncio.sleep(1)
        assert await consumer.applied() == len(names), "each applied once"
        for name in ("g0", "g149", "g150", "g299"):
            assert await consumer.applied(name) == 1
        assert not consumer.idempotent.waiting
        assert WAITING.labels("probe_b")._value.get() == 0
        assert await read_records(kafka_bootstrap, topic + ".dlq") == [], "no dead letter"
        tried = TRANSIENT.labels("probe_b", "ConnectionRefusedError")._value.get()
        assert tried > faults_before
    finally:
        await producer.stop()
        await consumer.stop()
        await proxy.cut()


async def test_a_failed_dead_letter_publish_holds_the_partition_and_skips_nothing(
    test_settings, kafka_bootstrap, topic, probe_b
):
    """The broker refuses the dead letter (too large for the DLQ topic): the poison record is
    neither applied nor dead-lettered, so neither it nor the records behind it are committed;
    once the DLQ takes it, it is dead-lettered once and the rest applied."""
    admin = await _admin(kafka_bootstrap)
    await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic + ".dlq",
                                              configs={"max.message.bytes": "64"})])  # fmt: skip

    def fail_with(env: Envelope) -> Exception | None:
        return PermanentError("unknown code") if env.data["id"] == "poison" else None

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    key = b"one-partition"
    consumer = Consumer(test_settings("probe_b"), probe_b, topic, fail_with=fail_with)
    try:
        first = await producer.send_and_wait(topic, greeting("before"), key=key)
        poison = await producer.send_and_wait(topic, greeting("poison"), key=key)
        await producer.send_and_wait(topic, greeting("after"), key=key)
        await consumer.start()
        await eventually(lambda: _eq(consumer.applied("before"), 1))
        await eventually(lambda: _true(consumer.idempotent.waiting), timeout=20)
        await asyncio.sleep(3)
        assert await consumer.applied("after") == 0, "the partition is held at the poison"
        assert await read_records(kafka_bootstrap, topic + ".dlq") == []
        await consumer.stop()
        tp = TopicPartition(topic, poison.partition)
        committed = (await admin.list_consumer_group_offsets("probe_b")).get(tp)
        assert committed is not None and first.offset < committed.offset <= poison.offset

        # A restarted consumer starts at the poison again; the DLQ takes the letter now.
        consumer = Consumer(test_settings("probe_b"), probe_b, topic, fail_with=fail_with)
        await consumer.start()
        await asyncio.sleep(2)
        assert await consumer.applied("after") == 0
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic + ".dlq",
                                                  configs={"max.message.bytes": "1048588"})])  # fmt: skip
        await eventually(lambda: _eq(consumer.applied("after"), 1), timeout=60)
        dead = await read_records(kafka_bootstrap, topic + ".dlq")
        assert [Envelope.from_bytes(d.value).data["id"] for d in dead] == ["poison"]
        assert await consumer.applied() == 2
        assert not consumer.idempotent.waiting
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()


async def _positive(value_coro) -> bool:
    return (await value_coro) > 0


async def _true(value: bool) -> bool:
    return value


async def test_the_relay_says_once_that_the_database_is_away_backs_off_and_once_that_it_is_back(
    test_settings, database_url, kafka_bootstrap, topic, caplog
):
    """The relay reaches the database through a proxy that is cut: events written meanwhile wait
    in the outbox, the relay logs one line (no traceback, no message text), backs off, logs one
    line when it publishes again, and nothing is lost or sent twice."""
    a = ProbeA()
    direct = create_engine(database_url, "probe_a", 2)
    await create_schema(direct, a.tables)
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    through = proxy.url(database_url)
    engine = create_engine(through, "probe_a", 2)
    producer = create_producer(test_settings("probe_a"))
    await producer.start()
    relay = OutboxRelay(
        engine=engine, table=a.tables.outbox, producer=producer, service="probe_a",
        database_url=through, poll_seconds=0.1, max_backoff_seconds=1.0,
    )  # fmt: skip
    caplog.set_level(logging.WARNING)
    try:
        with structlog.testing.capture_logs() as logs:
            await relay.start()
            await write_greeting(direct, a, topic, "before")
            await eventually(lambda: _eq(relay.unsent_count(), 0))

            await proxy.cut()
            ids = [f"during-{i}" for i in range(5)]
            for greeting_id in ids:
                await write_greeting(direct, a, topic, greeting_id)
            await eventually(lambda: _true(relay.failing), timeout=20)
            failures = RELAY_FAILURES.labels("probe_a", "transient")._value.get()
            await asyncio.sleep(4)  # about 0.1+0.2+0.4+0.8+1+1 s of pauses: a few tries, not 40
            tries = RELAY_FAILURES.labels("probe_a", "transient")._value.get() - failures
            assert 1 <= tries <= 8, tries
            assert RELAY_FAILING.labels("probe_a")._value.get() == 1

            await proxy.restore()
            await eventually(lambda: _false(relay.failing), timeout=20)
            await eventually(lambda: _eq(_unsent(direct, a), 0), timeout=20)
        events = [e["event"] for e in logs if e["event"].startswith("outbox_relay")]
        assert events == ["outbox_relay_waiting", "outbox_relay_recovered"], events
        waiting = next(e for e in logs if e["event"] == "outbox_relay_waiting")
        assert waiting["kind"] == "transient" and "exc_info" not in waiting
        # Class names (and a SQLSTATE) only: never an exception's message.
        assert re.fullmatch(r"\w+( < \w+)*( sqlstate=\w+)?", waiting["error"]), waiting["error"]
        listener = [e["event"] for e in logs if e["event"].startswith("listener_")]
        assert listener.count("listener_unavailable") <= 1
        assert not [r for r in caplog.records if r.exc_info], "no traceback from any library"
        assert RELAY_FAILING.labels("probe_a")._value.get() == 0

        published = [
            Envelope.from_bytes(r.value).data["id"]
            for r in await read_records(kafka_bootstrap, topic)
        ]
        assert sorted(set(published)) == sorted(["before", *ids])
    finally:
        await relay.stop()
        await producer.stop()
        await engine.dispose()
        await direct.dispose()
        await proxy.cut()


async def _unsent(engine, probe: ProbeA) -> int:
    t = probe.tables.outbox
    async with engine.connect() as conn:
        query = select(func.count()).select_from(t).where(t.c.sent_at.is_(None))
        return int((await conn.execute(query)).scalar_one())


async def _false(value: bool) -> bool:
    return not value


async def test_a_hung_database_fails_as_a_transient_timeout_and_works_again_after(database_url):
    """A server that accepts but never answers (frozen): without a bound a statement waits for
    ever. The engine's statement and connect timeouts turn it into a transient fault."""
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    engine = create_engine(
        proxy.url(database_url), "public", 2, connect_timeout=1.0, command_timeout=1.0
    )
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        proxy.hang()
        for _ in range(2):  # a pooled connection's statement, then (pool discarded) a connect
            started = asyncio.get_running_loop().time()
            with pytest.raises(TimeoutError) as caught:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            assert is_transient(caught.value), repr(caught.value)
            assert asyncio.get_running_loop().time() - started < 8
        proxy.flow()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 2"))).scalar_one() == 2
    finally:
        proxy.flow()
        await engine.dispose()
        await proxy.cut()
