"""Creating the registry's topics on a broker (dev launcher, compose job, tests)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from tenacity import AsyncRetrying, stop_after_delay, wait_fixed

from tsunagu.shared.contracts.topics import all_topic_names, partitions_of


async def create_topics(
    bootstrap: str,
    names: Iterable[str] | None = None,
    *,
    replication: int | None = None,
    timeout_s: float = 60.0,
    client_options: dict[str, object] | None = None,
) -> list[str]:
    """Create any missing topics; returns the names created. Waits for the broker to answer.

    ``replication`` defaults to the cluster's size, at most 3 (a three-node cluster gets what
    production has; a single broker 1)."""
    wanted = list(names) if names is not None else list(all_topic_names())
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="tsunagu-admin", **(client_options or {})
    )
    # The broker may still be starting: try every half second for up to ``timeout_s``.
    async for attempt in AsyncRetrying(
        stop=stop_after_delay(timeout_s), wait=wait_fixed(0.5), reraise=True
    ):
        with attempt:
            await admin.start()
    try:
        if replication is None:
            cluster = await admin.describe_cluster()
            replication = max(1, min(3, len(cluster.get("brokers", []) or [1])))
        existing = set(await admin.list_topics())
        missing = [n for n in wanted if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process was quicker
                await admin.create_topics(
                    [NewTopic(n, partitions_of(n), replication) for n in missing]
                )
        return missing
    finally:
        await admin.close()
