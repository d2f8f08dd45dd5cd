"""What the chaos tests share: submitting a case through restarts, consumer lag, DLQ size."""

from __future__ import annotations

import time

import httpx
from cases import new_key

from tsunagu.shared.contracts.topics import ALL_TOPICS, dlq_topics


def submit(stack, token: object, body: dict, deadline: float) -> str | None:
    """POST with one Idempotency-Key, retried through restarts until intake accepts it.

    ``token`` is a token or a ``stack.SignedIn`` (for runs longer than a token lasts)."""
    key = new_key()
    while time.monotonic() < deadline:
        try:
            r = httpx.post(
                stack.url("intake") + "/api/v1/cases",
                json=body,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                timeout=15,
            )
        except httpx.HTTPError:
            time.sleep(0.3)
            continue
        if r.status_code == 201:
            return str(r.json()["case_id"])
        if r.status_code in (500, 502, 503, 504):
            time.sleep(0.3)
            continue
        raise AssertionError(f"intake refused a valid case: {r.status_code} {r.text[:300]}")
    return None


def total_lag(stack) -> int:
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    async def run() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.infra.kafka_bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.infra.kafka_bootstrap)
        await admin.start()
        await consumer.start()
        try:
            total = 0
            # Every consumer group the registry names (intake's report facts have their own).
            for group in dict.fromkeys(g for t in ALL_TOPICS for g in t.groups):
                committed = await admin.list_consumer_group_offsets(group)
                consumed = {t.name for t in ALL_TOPICS if group in t.groups}
                tps = [TopicPartition(t.name, p) for t in ALL_TOPICS if t.name in consumed
                       for p in range(t.partitions)]  # fmt: skip
                ends = await consumer.end_offsets(tps)
                for tp in tps:
                    meta = committed.get(tp)
                    total += ends[tp] - (meta.offset if meta is not None else 0)
            return total
        finally:
            await consumer.stop()
            await admin.close()

    return asyncio.run(run())


def dlq_size(stack) -> int:
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.infra.kafka_bootstrap)
        await consumer.start()
        try:
            tps = [TopicPartition(t, 0) for t in dlq_topics()]
            ends = await consumer.end_offsets(tps)
            return sum(ends.values())
        finally:
            await consumer.stop()

    return asyncio.run(run())


def memory_line(stack) -> str:
    """Memory as the chaos runs end: each service process's peak RSS (VmHWM: services are not
    restarted by the infrastructure faults), each Kafka node's peak RSS since its last start,
    and PostgreSQL's proportional set size (its processes share their buffers: PSS counts
    shared pages once), in MB."""
    from pathlib import Path

    def status(pid: int, field: str) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def pss(pid: int) -> float:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
        return 0.0

    parts = []
    for name, proc in stack.procs.items():
        if proc.process is not None and proc.process.poll() is None:
            parts.append(f"{name}={status(proc.process.pid, 'VmHWM'):.0f}")
    for i, node in enumerate(getattr(stack.infra.kafka, "nodes", None) or [stack.infra.kafka]):
        pid = node.running_pid() if node is not None else None
        if pid is not None:
            parts.append(f"kafka{i + 1}={status(pid, 'VmHWM'):.0f}")
    postgres = stack.infra.postgres
    pid = postgres.postmaster_pid() if postgres is not None else None
    if pid is not None:
        from tsunagu.devstack.postgres import _children

        total = sum(pss(p) for p in [pid, *_children(pid)])
        parts.append(f"postgres_pss={total:.0f}")
    return "peak_rss_mb: " + " ".join(parts)
