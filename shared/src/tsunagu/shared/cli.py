"""The ``tsunagu`` command: serve a service, migrate, create topics, list and replay the DLQ."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from typing import Any

from tsunagu.shared.contracts.topics import DLQ_SUFFIX, dlq_topics, partitions_of
from tsunagu.shared.migrations import upgrade
from tsunagu.shared.services import names
from tsunagu.shared.services import service as registered_service
from tsunagu.shared.settings import Settings


def serve(service: str) -> None:
    import uvicorn

    from tsunagu.shared.logs import configure_logging

    settings = Settings(service=service)
    settings.check_production()
    configure_logging(service, settings.log_level)
    bootstrap = importlib.import_module(f"{registered_service(service).package}.bootstrap")
    app = bootstrap.build_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
    )


def migrate(services: list[str]) -> None:
    settings = Settings()
    unknown = set(services) - set(names())
    if unknown:
        raise SystemExit(f"unknown service(s): {', '.join(sorted(unknown))}")
    for service in services or list(names()):
        upgrade(service, settings.database_url)
        print(f"migrated {service}")


def create_topics(replication: int | None) -> None:
    from tsunagu.shared.kafka_admin import create_topics as create

    settings = Settings()
    created = asyncio.run(
        create(
            settings.kafka_bootstrap,
            replication=replication,
            client_options=settings.kafka_client_options(),
        )
    )
    print(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else ""))


async def _dlq_records(settings: Settings, topics: list[str]) -> list[Any]:
    """Every record on the given dead-letter topics, read from the beginning, not committed."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        **settings.kafka_client_options(),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions_of(t))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        records: list[Any] = []
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=2000)
            for tp, msgs in batch.items():
                records.extend(m for m in msgs if m.offset < end[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
    finally:
        await consumer.stop()


def describe(record: Any) -> dict[str, Any]:
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    return {
        "dlq_topic": record.topic,
        "dlq_offset": record.offset,
        "consumer": headers.get("dlq-consumer"),
        "origin": f"{headers.get('dlq-origin-topic')}/{headers.get('dlq-origin-partition')}"
        f"@{headers.get('dlq-origin-offset')}",
        "error": headers.get("dlq-error"),
        "failed_at": headers.get("dlq-failed-at"),
    }


def dlq_list(topic: str | None) -> list[dict[str, Any]]:
    settings = Settings()
    topics = (
        [topic + ("" if topic.endswith(DLQ_SUFFIX) else DLQ_SUFFIX)]
        if topic
        else list(dlq_topics())
    )
    records = asyncio.run(_dlq_records(settings, topics))
    return [describe(r) for r in records]


async def _replay(settings: Settings, dlq_topic: str, offset: int) -> str:
    from aiokafka import AIOKafkaProducer

    from tsunagu.shared.broker import PRODUCER_OPTIONS

    records = [r for r in await _dlq_records(settings, [dlq_topic]) if r.offset == offset]
    if not records:
        raise SystemExit(f"no message at offset {offset} of {dlq_topic}")
    record = records[0]
    origin = dlq_topic.removesuffix(DLQ_SUFFIX)
    keep = [(k, v) for k, v in record.headers or () if not k.startswith("dlq-")]
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        **PRODUCER_OPTIONS,
        **settings.kafka_client_options(),
    )
    await producer.start()
    try:
        await producer.send_and_wait(origin, record.value, key=record.key, headers=keep)
    finally:
        await producer.stop()
    return origin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tsunagu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run one service (HTTP, consumers, outbox relay)")
    p.add_argument("service", choices=sorted(names()))
    p = sub.add_parser("migrate", help="migrate the services' schemas (all by default)")
    p.add_argument("services", nargs="*", help=f"any of {', '.join(sorted(names()))}")
    p = sub.add_parser("topics", help="create the registry's topics")
    p.add_argument("action", choices=["create"])
    p.add_argument(
        "--replication", type=int, default=None, help="default: the cluster size, at most 3"
    )
    dlq = sub.add_parser("dlq", help="dead-lettered messages")
    dsub = dlq.add_subparsers(dest="action", required=True)
    p = dsub.add_parser("list", help="list dead-lettered messages with their errors")
    p.add_argument("--topic", help="a consumed topic or its .dlq (default: every DLQ)")
    p.add_argument("--json", action="store_true")
    p = dsub.add_parser("replay", help="re-publish one dead-lettered message to its topic")
    p.add_argument("dlq_topic")
    p.add_argument("offset", type=int)
    args = parser.parse_args(argv)

    if args.command == "serve":
        serve(args.service)
    elif args.command == "migrate":
        migrate(args.services)
    elif args.command == "topics":
        create_topics(args.replication)
    elif args.command == "dlq" and args.action == "list":
        rows = dlq_list(args.topic)
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            for row in rows:
                print(
                    f"{row['dlq_topic']}@{row['dlq_offset']}  {row['consumer']}  "
                    f"from {row['origin']}  {row['failed_at']}\n    {row['error']}"
                )
            print(f"{len(rows)} dead-lettered message(s)")
    elif args.command == "dlq" and args.action == "replay":
        origin = asyncio.run(_replay(Settings(), args.dlq_topic, args.offset))
        print(f"replayed {args.dlq_topic}@{args.offset} to {origin}")


if __name__ == "__main__":
    main(sys.argv[1:])
