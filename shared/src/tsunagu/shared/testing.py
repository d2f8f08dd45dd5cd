"""The Kafka test kit every service's tests use against the real broker of the launcher.

- `read_records` / `read_topic`: everything on a topic so far (from the beginning to the end
  offsets at the time of asking), without a consumer group, so a test never disturbs the
  services' own groups; topics are shared between tests, so callers filter by their own ids.
- `committed_topics`: the topics a consumer group has committed offsets on (what it reads).
- `publish`: one event, keyed, with the producer settings the services use (acks="all",
  idempotent), from a producer the test holds or a short-lived one.
- `eventually`: wait for a condition that the system reaches asynchronously.
- `http_server`: a real local HTTP server on a free port, for an outside system a test plays
  (an SMS provider, a webhook, intake's key endpoint).
- `intake_keys`: intake's key endpoints played by such a server, from a `LocalKeys`; they can
  be taken down (503) or held (a slow intake: requests wait until released).
- `idle_in_transaction`: a service's connections left idle inside an open transaction, from
  `pg_stat_activity` (what a remote call made inside a transaction looks like).

Not for production code (nothing here is imported by a service's ``src``); it lives in
``tsunagu.shared`` so that every service's tests, the cross-service tests and the benchmarks
share one copy.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tsunagu.shared.broker import PRODUCER_OPTIONS
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.crypto import LocalKeys, purpose_key

T = TypeVar("T")


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve ``handler`` on 127.0.0.1 on a free port (yielded) in a thread, until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class IntakeKeyEndpoint:
    """Intake's key endpoints (ADR 12) as a test plays them: ``GET
    /internal/v1/keys/{resident}/{purpose}`` and ``POST /internal/v1/keys/{purpose}``, answered
    from ``keys`` (410, or left out, for a resident without a key). ``up`` False answers 503.
    While ``released`` is clear, every request waits for it (a slow intake); ``waiting``
    counts the requests waiting now, ``requests`` all of them."""

    keys: LocalKeys = field(default_factory=LocalKeys)
    up: bool = True
    released: threading.Event = field(default_factory=threading.Event)
    requests: int = 0
    waiting: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self.released.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hold(self) -> None:
        """From now on, requests wait until ``release``."""
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def key_of(self, resident_id: str, purpose: str) -> str | None:
        data_key = self.keys.data_keys.get(resident_id)
        return None if data_key is None else purpose_key(data_key, purpose).decode()

    async def in_flight(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 (a test says)
        """Wait until a request is waiting to be released."""
        await eventually(self._waiting, timeout=timeout, interval=0.01)

    async def _waiting(self) -> bool:
        return self.waiting > 0


@contextmanager
def intake_keys(keys: LocalKeys | None = None) -> Iterator[IntakeKeyEndpoint]:
    """Intake's key endpoints on a free local port until the block ends (released at the end,
    so no request is left waiting)."""
    state = IntakeKeyEndpoint(keys or LocalKeys())

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            reply = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def _wait(self) -> None:
            state.requests += 1
            state.waiting += 1
            try:
                state.released.wait(timeout=60)
            finally:
                state.waiting -= 1

        def do_GET(self) -> None:  # /internal/v1/keys/{resident}/{purpose}
            self._wait()
            if not state.up:
                return self._answer(503, {"code": "unavailable"})
            resident_id, purpose = self.path.rstrip("/").split("/")[-2:]
            key = state.key_of(resident_id, purpose)
            if key is None:
                return self._answer(410, {"code": "gone"})
            return self._answer(200, {"key": key})

        def do_POST(self) -> None:  # /internal/v1/keys/{purpose} {"resident_ids": [...]}
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self._wait()
            if not state.up:
                return self._answer(503, {"code": "unavailable"})
            purpose = self.path.rstrip("/").split("/")[-1]
            found = {r: state.key_of(r, purpose) for r in body["resident_ids"]}
            return self._answer(200, {"keys": {r: k for r, k in found.items() if k is not None}})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        with http_server(Handler) as state.port:
            yield state
    finally:
        state.release()


async def idle_in_transaction(
    engine: AsyncEngine,
    application_name: str,
    longer_than: float = 0.3,
) -> list[str]:
    """The last statement of each connection of ``application_name`` (the service's schema,
    ``db.create_engine``) to this database that has sat idle inside an open transaction for
    more than ``longer_than`` seconds: a transaction held open while the service waits on
    something else. Asked on a connection of its own, outside any transaction."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        rows = await conn.execute(
            text(
                "SELECT query FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = :app"
                " AND pid <> pg_backend_pid() AND state = 'idle in transaction'"
                " AND clock_timestamp() - state_change > make_interval(secs => :idle)"
            ),
            {"app": application_name, "idle": longer_than},
        )
        return [str(query) for query in rows.scalars()]


async def partitions_of(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, asking the broker again if the consumer's metadata does
    not know a topic yet."""
    found: list[TopicPartition] = []
    for topic in topics:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        found += [TopicPartition(topic, p) for p in sorted(partitions)]
    return found


async def read_records(bootstrap: str, *topics: str, must_exist: bool = False) -> list[Any]:
    """Every record (aiokafka's ``ConsumerRecord``) on ``topics`` so far, partition by
    partition, each partition in offset order. A topic that does not exist has none, unless
    ``must_exist``: then the test fails naming it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await partitions_of(consumer, topics)
        missing = set(topics) - {tp.topic for tp in tps}
        if must_exist and missing:
            raise AssertionError(f"no such topic: {', '.join(sorted(missing))}")
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[Any] = []
        for tp in tps:
            while await consumer.position(tp) < end[tp]:
                for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                    out.extend(records)
        return out
    finally:
        await consumer.stop()


async def read_topic(bootstrap: str, topic: str, key: str | None = None) -> list[Envelope]:
    """Every event on ``topic`` so far (only those keyed ``key``, if given)."""
    records = await read_records(bootstrap, topic)
    return [
        Envelope.from_bytes(r.value)
        for r in records
        if key is None or (r.key is not None and r.key.decode() == key)
    ]


async def committed_topics(bootstrap: str, group: str) -> set[str]:
    """The topics on which consumer group ``group`` has committed offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.topic for tp in offsets}


@asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A producer with the services' settings (acks="all", idempotent)."""
    made = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_OPTIONS)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()


async def publish(
    target: AIOKafkaProducer | str,
    topic: str,
    envelope: Envelope | bytes,
    *,
    key: str,
    partition: int | None = None,
) -> None:
    """Send one event (or raw bytes, e.g. poison) keyed ``key``; ``target`` is a started
    producer or a bootstrap address (then a producer is made for this one send)."""
    value = envelope if isinstance(envelope, bytes) else envelope.to_bytes()
    if isinstance(target, str):
        async with producer(target) as made:
            await made.send_and_wait(topic, value, key=key.encode(), partition=partition)
        return
    await target.send_and_wait(topic, value, key=key.encode(), partition=partition)


async def eventually(
    check: Callable[[], Awaitable[T]],
    timeout: float = 30.0,  # noqa: ASYNC109 (how long to wait is what a test says)
    interval: float = 0.1,
) -> T:
    """Wait until ``check()`` returns something truthy, and return it; fail after
    ``timeout`` seconds, showing the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s (last value: {value!r})")
        await asyncio.sleep(interval)
