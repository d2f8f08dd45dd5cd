"""The framework tier: the floor's two hops rebuilt on ``tsunagu.shared``, still no service logic.

Each hop is a ``ServiceRuntime`` in its own process, as a service is (HTTP left out): a FastStream
consumer through ``IdempotentConsumer`` (inbox row, retries, DLQ, offset committed per message
after the database commit), a handler that writes one business row and adds its events with
``OutboxWriter`` (outbox row + ``pg_notify`` each), and the ``OutboxRelay`` that publishes them.
Settings are the services' defaults (relay poll 1 s, batch 200, pool 10, linger 5 ms).

Same topics (prefix ``framework.``), same partitions, same events, same driver and observer as
the floor: framework/floor is what the shared runtime costs; system/framework is what the
services' own work (HTTP, validation, rules, audit, templates, SMTP) adds on top.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from benchmarks.floor import Chain, hop1_events, hop2_events, hop_args, run_chain
from benchmarks.load import Context
from benchmarks.observe import Topics

PREFIX = "framework."
GROUPS = {1: "fw_hop1", 2: "fw_hop2"}


def _tables(schema: str) -> Any:
    from sqlalchemy import Column, DateTime, String, Table, func
    from sqlalchemy.dialects.postgresql import JSONB

    from tsunagu.shared.runtime import ServiceTables

    tables = ServiceTables(schema)
    tables.hop = Table(  # type: ignore[attr-defined]
        "hop",
        tables.metadata,
        Column("event_id", String(64), primary_key=True),
        Column("case_id", String(64), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("payload", JSONB, nullable=False),
    )
    return tables


async def _setup(ctx: Context, topics: Topics) -> None:
    from sqlalchemy import text

    from tsunagu.shared.db import create_engine

    for schema in GROUPS.values():
        engine = create_engine(ctx.database_url, schema, 1)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await conn.run_sync(_tables(schema).metadata.create_all)
        finally:
            await engine.dispose()


FRAMEWORK = Chain(
    name="framework",
    prefix=PREFIX,
    module="benchmarks.framework",
    groups=GROUPS,
    what="the same 2 hops on tsunagu.shared (ServiceRuntime: FastStream consumer, inbox, outbox, "
    "relay; default settings), no service logic",
    setup=_setup,
    counts="system",
)


async def run_framework(ctx: Context) -> dict[str, Any]:
    return await run_chain(ctx, FRAMEWORK)


async def hop(role: int, bootstrap: str, database_url: str, prefix: str, service: str) -> None:
    from tsunagu.shared.contracts.envelope import Envelope
    from tsunagu.shared.logs import configure_logging
    from tsunagu.shared.runtime import ServiceRuntime
    from tsunagu.shared.settings import Settings

    settings = Settings(
        service=service, env="test", kafka_bootstrap=bootstrap, database_url=database_url
    )
    configure_logging(service, settings.log_level)
    tables = _tables(settings.db_schema)
    runtime = ServiceRuntime(settings, tables)
    topics = Topics.registry(prefix)
    counts = {"messages": 0}

    async def handle(session: Any, envelope: Envelope) -> None:
        env = {"event_id": envelope.event_id, "data": envelope.data}
        await session.execute(
            tables.hop.insert().values(
                event_id=envelope.event_id, case_id=envelope.data["case_id"], payload=envelope.data
            )
        )
        events = hop1_events(env, topics) if role == 1 else hop2_events(env, topics)
        for topic, event_type, data in events:
            out = runtime.outbox.envelope(event_type, data, causation=envelope)
            await runtime.outbox.add(
                session,
                topic=topic,
                aggregatetype="case",
                aggregateid=data["case_id"],
                envelope=out,
            )
        counts["messages"] += 1

    if role == 1:
        runtime.consume([topics.intake], {"case_created": handle})
    else:
        runtime.consume(list(topics.programmes), {"referral_created": handle})
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await runtime.start_when_reachable()
    try:
        await stopping.wait()
    finally:
        await runtime.stop()
        await runtime.engine.dispose()
        print(f"framework hop {role} stopped after {counts['messages']} messages", flush=True)


def main(argv: list[str] | None = None) -> None:
    args = hop_args(argv, "python -m benchmarks.framework")
    asyncio.run(
        hop(
            args.role,
            args.bootstrap,
            args.database_url,
            args.prefix,
            args.group or GROUPS[args.role],
        )
    )


if __name__ == "__main__":
    main()
