"""Runs service A's outbox relay as a real process that stops between publishing and marking sent.

The test SIGKILLs it there: the events are on Kafka, but the outbox still says unsent.
"""

from __future__ import annotations

import asyncio
import sys

from probe import ProbeA

from tsunagu.shared.broker import create_producer
from tsunagu.shared.db import create_engine
from tsunagu.shared.outbox import OutboxRelay
from tsunagu.shared.settings import Settings


class HangingRelay(OutboxRelay):
    async def after_publish(self, count: int) -> None:
        print(f"published {count}", flush=True)
        await asyncio.sleep(3600)


async def main(database_url: str, bootstrap: str) -> None:
    settings = Settings(service="probe_a", database_url=database_url, kafka_bootstrap=bootstrap)
    probe = ProbeA()
    engine = create_engine(database_url, "probe_a")
    producer = create_producer(settings)
    await producer.start()
    relay = HangingRelay(
        engine=engine, table=probe.tables.outbox, producer=producer, service="probe_a",
        database_url=database_url, listen=False,
    )  # fmt: skip
    await relay.publish_batch()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
