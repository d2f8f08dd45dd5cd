"""Fixtures for routing's integration tests: runtimes on the real broker and database."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).parent))

from routing_testkit import FakeClock, Tap, stop_runtime

from tsunagu.routing.bootstrap import RoutingRuntime, build_runtime
from tsunagu.routing.config import RoutingConfig
from tsunagu.shared.broker import PRODUCER_OPTIONS
from tsunagu.shared.contracts.topics import ROUTING, consumed_by, produced_by

StartRuntime = Callable[..., Awaitable[RoutingRuntime]]


@pytest.fixture(scope="session")
def group() -> str:
    """This session's consumer group: concurrent test sessions share the broker's topics."""
    return f"routing-test-{os.getpid()}"


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """Plays intake: publishes envelopes to intake's topics."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture(scope="session")
async def tap(kafka_bootstrap: str, topics: list[str]) -> AsyncIterator[Tap]:
    """Everything routing publishes, and the dead-letter topics of what it reads."""
    names = [t.name for t in produced_by(ROUTING)] + [t.dlq for t in consumed_by(ROUTING)]
    tap = Tap(kafka_bootstrap, names)
    await tap.start()
    yield tap
    await tap.stop()


@pytest.fixture(scope="session")
def schema(migrated: Callable[[str], None]) -> None:
    """Routing's schema, migrated once (a sync fixture: Alembic runs its own event loop)."""
    migrated("routing")


@pytest.fixture
async def start_runtime(
    test_settings: Any, schema: None, group: str
) -> AsyncIterator[StartRuntime]:
    """Starts routing runtimes (consumers, relay, scanner) in this process; stops them after."""
    started: list[RoutingRuntime] = []

    async def start(clock: FakeClock | None = None, **config: Any) -> RoutingRuntime:
        values = {"scan_interval_seconds": 0.2, "consumer_name": group, **config}
        runtime = build_runtime(test_settings("routing"), clock, config=RoutingConfig(**values))
        await runtime.start()
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        await stop_runtime(runtime)
