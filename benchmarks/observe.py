"""A separate aiokafka consumer that watches the pipeline's topics and timestamps each case.

It reads from the end of every partition of the watched topics (no consumer group, so it never
takes partitions from a service), correlates by the record key (``case_id`` on every topic of
the registry, falling back to ``data.case_id``), and keeps, per case, when it first saw
- ``bus``: ``case_created`` on the intake topic;
- ``routed``: ``case_routed`` on the routing case topic, with how many referrals it made
  (``status: pending``, i.e. shared with the programme now);
- ``referral``: each distinct programme topic carrying a ``referral_created`` for the case;
- ``message``: each distinct ``delivery_attempted`` with ``status: sent`` to a team (the staff
  message notify records for a referral).
Arrival is the moment ``getmany`` handed the record over (``time.perf_counter``), the same clock
the load generator stamps submissions with. The floor's hops publish records of the same shape,
so both runs are timed by this same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass(frozen=True)
class Topics:
    intake: str
    routing_case: str
    programmes: tuple[str, ...]
    delivery: str

    @classmethod
    def registry(cls, prefix: str = "") -> Topics:
        from tsunagu.shared.contracts.topics import (
            INTAKE_CASE,
            NOTIFY_DELIVERY,
            PROGRAMME_TOPICS,
            ROUTING_CASE,
        )

        return cls(
            intake=prefix + INTAKE_CASE.name,
            routing_case=prefix + ROUTING_CASE.name,
            programmes=tuple(prefix + t.name for t in PROGRAMME_TOPICS.values()),
            delivery=prefix + NOTIFY_DELIVERY.name,
        )

    def all(self) -> tuple[str, ...]:
        return (self.intake, self.routing_case, *self.programmes, self.delivery)


class Observer:
    def __init__(
        self, bootstrap: str, topics: Topics, *, watch: Iterable[str] | None = None
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.watch = tuple(watch) if watch is not None else topics.all()
        self._role = {
            topics.intake: "bus",
            topics.routing_case: "routed",
            topics.delivery: "message",
        }
        self._role |= {t: "referral" for t in topics.programmes}
        self.first: dict[str, dict[str, float]] = {"bus": {}, "routed": {}}
        self.expected: dict[str, int] = {}
        self.referrals: dict[str, dict[str, float]] = defaultdict(dict)
        self.messages: dict[str, dict[str, float]] = defaultdict(dict)
        self.delivery_statuses: Counter[str] = Counter()
        #: When the producer handed a stage's first record to Kafka (its timestamp, wall clock
        #: seconds), and per case the first staff message: (delivery id, produced, arrived).
        self.produced: dict[str, dict[str, float]] = {"bus": {}, "routed": {}}
        self.first_message: dict[str, tuple[str, float, float]] = {}
        self.records = 0
        self.unreadable = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="bench-observer",
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        self._consumer = consumer
        tps: list[TopicPartition] = []
        for topic in self.watch:
            parts = consumer.partitions_for_topic(topic)
            for _ in range(50):
                if parts:
                    break
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic)
                if not parts:
                    await asyncio.sleep(0.1)
            if not parts:
                raise RuntimeError(f"observer: topic {topic} has no partitions")
            tps += [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        # Right after topic creation a leader may not serve offsets yet; aiokafka retries and
        # logs each retry as an error, which says nothing here.
        fetcher_log = logging.getLogger("aiokafka.consumer.fetcher")
        level = fetcher_log.level
        fetcher_log.setLevel(logging.CRITICAL)
        try:
            await consumer.seek_to_end(*tps)
            for tp in tps:  # resolve the end offsets now, before any load is sent
                await consumer.position(tp)
        finally:
            fetcher_log.setLevel(level)
        self._task = asyncio.create_task(self._loop(), name="bench-observer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _loop(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for tp, records in batch.items():
                role = self._role.get(tp.topic)
                for r in records:
                    self.records += 1
                    self._on(role, tp.topic, r.key, r.value, now, r.timestamp / 1000)

    def _on(
        self,
        role: str | None,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        now: float,
        produced: float = 0.0,
    ) -> None:
        try:
            env = json.loads(value or b"")
            event_type = env.get("event_type")
            data = env.get("data") or {}
        except (ValueError, AttributeError):
            self.unreadable += 1
            return
        case_id = key.decode() if key else data.get("case_id")
        if not case_id:
            return
        if role == "bus" and event_type == "case_created":
            self.first["bus"].setdefault(case_id, now)
            self.produced["bus"].setdefault(case_id, produced)
        elif role == "routed" and event_type == "case_routed":
            if case_id not in self.first["routed"]:
                self.first["routed"][case_id] = now
                self.produced["routed"][case_id] = produced
                refs = data.get("referrals") or []
                self.expected[case_id] = sum(1 for x in refs if x.get("status") == "pending")
        elif role == "referral" and event_type == "referral_created":
            self.referrals[case_id].setdefault(topic, now)
        elif role == "message" and event_type == "delivery_attempted":
            status = data.get("status")
            self.delivery_statuses[f"{data.get('template')}:{status}"] += 1
            to_staff = (
                data.get("recipient_kind") == "team" or data.get("template") == "new_referral"
            )
            if status == "sent" and to_staff:
                delivery = data.get("delivery_id") or data.get("dedup_key") or str(self.records)
                self.messages[case_id].setdefault(delivery, now)
                self.first_message.setdefault(case_id, (str(delivery), produced, now))

    # --- reading the clock -------------------------------------------------------------------

    def _all(self, times: dict[str, float], case_id: str) -> float | None:
        n = self.expected.get(case_id)
        if n is None or len(times) < max(n, 1):
            return None
        return sorted(times.values())[max(n, 1) - 1]

    def arrival(self, stage: str, case_id: str) -> float | None:
        if stage in self.first:
            return self.first[stage].get(case_id)
        if stage in ("referral", "message"):
            times = (self.referrals if stage == "referral" else self.messages).get(case_id)
            return min(times.values()) if times else None
        if stage in ("referral_all", "message_all"):
            times = (self.referrals if stage == "referral_all" else self.messages).get(case_id)
            return self._all(times, case_id) if times else None
        raise KeyError(stage)

    def arrivals(self, keys: Iterable[str], stages: Iterable[str]) -> dict[str, dict[str, float]]:
        keys = list(keys)
        out: dict[str, dict[str, float]] = {}
        for stage in stages:
            row = {}
            for k in keys:
                t = self.arrival(stage, k)
                if t is not None:
                    row[k] = t
            out[stage] = row
        return out

    def done(self, keys: Iterable[str], stage: str) -> int:
        return sum(1 for k in keys if self.arrival(stage, k) is not None)

    async def wait(self, keys: Iterable[str], stage: str, limit_s: float) -> int:
        """Wait until every key reached ``stage``: at most ``limit_s`` seconds, longer only while
        cases keep arriving (never more than three times ``limit_s``)."""
        keys = list(keys)
        pending = set(keys)
        deadline = time.monotonic() + limit_s
        hard = time.monotonic() + 3 * limit_s
        while pending and time.monotonic() < min(deadline, hard):
            before = len(pending)
            pending = {k for k in pending if self.arrival(stage, k) is None}
            if len(pending) < before:  # progress: extend the deadline a little
                deadline = max(deadline, time.monotonic() + min(limit_s, 10.0))
            if pending:
                await asyncio.sleep(0.1)
        return len(keys) - len(pending)


async def wait_group_stable(
    bootstrap: str, group: str, min_members: int, limit_s: float = 60.0
) -> int:
    """Wait until consumer group ``group`` is Stable with at least ``min_members`` members and
    its membership stopped changing; returns the member count (0 if it never settled)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    await admin.start()
    try:
        deadline = time.monotonic() + limit_s
        last: tuple[str, int] | None = None
        steady = 0
        while time.monotonic() < deadline:
            state, members = "", 0
            with contextlib.suppress(Exception):
                for response in await admin.describe_consumer_groups([group]):
                    for g in response.groups:
                        # (error_code, group_id, state, protocol_type, protocol, members, ...)
                        state, members = str(g[2]), len(g[5])
            now = (state, members)
            steady = steady + 1 if now == last else 0
            last = now
            if state == "Stable" and members >= min_members and steady >= 3:
                return members
            await asyncio.sleep(0.3)
        return 0
    finally:
        await admin.close()


async def wait_leaders(bootstrap: str, topics: Iterable[str], limit_s: float = 30.0) -> None:
    """Wait until every partition of ``topics`` has a leader (right after creating them)."""
    from aiokafka import AIOKafkaClient

    topics = list(topics)

    client = AIOKafkaClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    await client.bootstrap()
    try:
        deadline = time.monotonic() + limit_s
        missing: list[str] = list(topics)
        while time.monotonic() < deadline:
            await client.force_metadata_update()
            cluster = client.cluster
            missing = []
            for topic in topics:
                parts = cluster.partitions_for_topic(topic)
                if not parts or any(
                    cluster.leader_for_partition(TopicPartition(topic, p)) in (None, -1)
                    for p in parts
                ):
                    missing.append(topic)
            if not missing:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"topics without leaders: {', '.join(missing)}")
    finally:
        await client.close()


class LagSampler:
    """Consumer-group lag on the broker, sampled: where a backlog builds, that consumer is the
    bottleneck. Every group on the (benchmark's own) broker is watched; ``window`` reports the
    largest and mean total lag per group, and per topic the largest, during a run."""

    def __init__(self, bootstrap: str, interval: float = 0.5) -> None:
        self.bootstrap = bootstrap
        self.interval = interval
        self._samples: list[tuple[float, dict[str, dict[str, int]]]] = []
        self._task: asyncio.Task[None] | None = None
        self._admin: Any = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="bench-lag")
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, client_id="bench-lag", group_id=None
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="bench-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            if self._consumer is not None:
                await self._consumer.stop()
        with contextlib.suppress(Exception):
            if self._admin is not None:
                await self._admin.close()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            sample: dict[str, dict[str, int]] = {}
            with contextlib.suppress(Exception):
                groups = [g[0] for g in await self._admin.list_consumer_groups()]
                for group in groups:
                    if group.startswith("bench-"):
                        continue
                    offsets = await self._admin.list_consumer_group_offsets(group)
                    if not offsets:
                        continue
                    ends = await self._consumer.end_offsets(list(offsets))
                    by_topic: dict[str, int] = {}
                    for tp, om in offsets.items():
                        if om.offset >= 0:
                            by_topic[tp.topic] = by_topic.get(tp.topic, 0) + max(
                                0, ends[tp] - om.offset
                            )
                    sample[group] = by_topic
            self._samples.append((time.perf_counter(), sample))
            await asyncio.sleep(self.interval)

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        rows = [s for t, s in self._samples if t0 <= t <= t1]
        out: dict[str, Any] = {}
        for group in sorted({g for s in rows for g in s}):
            totals = [sum(s[group].values()) for s in rows if group in s]
            topics: dict[str, int] = {}
            for s in rows:
                for topic, lag in s.get(group, {}).items():
                    topics[topic] = max(topics.get(topic, 0), lag)
            if not totals:
                continue
            out[group] = {
                "max": max(totals),
                "mean": round(sum(totals) / len(totals), 1),
                "max_by_topic": {
                    t: v for t, v in sorted(topics.items(), key=lambda kv: -kv[1]) if v
                },
            }
        return out
