"""Wake-ups on a real PostgreSQL: one notification per transaction, a listener that reconnects."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import pytest
from sqlalchemy import text

from tsunagu.shared.db import asyncpg_dsn, create_engine, session_factory
from tsunagu.shared.wakeup import Listener, notify_at_commit

pytestmark = pytest.mark.integration


async def test_one_notification_per_channel_per_committed_transaction(database_url: str) -> None:
    channel, other = f"probe_{uuid.uuid4().hex[:8]}", f"probe_{uuid.uuid4().hex[:8]}"
    received: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(database_url))
    await listener.add_listener(channel, lambda *args: received.append(args[2]))
    await listener.add_listener(other, lambda *args: received.append(args[2]))
    engine = create_engine(database_url, "public", 2)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            async with session.begin():
                for _ in range(3):
                    await notify_at_commit(session, channel)
                await notify_at_commit(session, other)
            async with session.begin():  # the same session, a new transaction: notifies again
                await notify_at_commit(session, channel)
            async with session.begin():
                await notify_at_commit(session, channel)
                await session.rollback()  # rolled back: nobody is woken
        await asyncio.sleep(0.5)
        assert sorted(received) == sorted([channel, other, channel])
    finally:
        await listener.close()
        await engine.dispose()


async def test_a_listener_wakes_at_commit_and_otherwise_waits_its_time(database_url: str) -> None:
    channel = f"probe_{uuid.uuid4().hex[:8]}"
    listener = Listener(database_url, channel)
    await listener.start()
    await listener.wait(0.01)  # the look it takes after connecting
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        started = time.monotonic()
        await listener.wait(0.3)
        assert time.monotonic() - started >= 0.25  # nothing notified: the whole poll

        async def notify_soon() -> None:
            await asyncio.sleep(0.1)
            await connection.execute("SELECT pg_notify($1, '')", channel)

        task = asyncio.create_task(notify_soon())
        started = time.monotonic()
        await listener.wait(10)
        assert time.monotonic() - started < 5
        await task
    finally:
        await connection.close()
        await listener.stop()


async def test_a_listener_whose_connection_was_dropped_listens_again(database_url: str) -> None:
    channel = f"probe_{uuid.uuid4().hex[:8]}"
    listener = Listener(database_url, channel)
    await listener.start()
    await listener.wait(0.01)
    engine = create_engine(database_url, "public", 2)
    try:
        async with engine.begin() as conn:
            terminated = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN%' AND query LIKE :channel"
                ),
                {"channel": f"%{channel}%"},
            )
        assert terminated == 1
        await asyncio.sleep(0.3)
        await listener.wait(0.01)  # notices the lost connection, listens again, looks once
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": channel})
        started = time.monotonic()
        await listener.wait(10)
        assert time.monotonic() - started < 5
    finally:
        await listener.stop()
        await engine.dispose()


async def test_a_listener_in_the_same_process_is_woken_at_commit_without_a_notify(
    database_url: str,
) -> None:
    channel = f"probe_{uuid.uuid4().hex[:8]}"
    elsewhere: list[str] = []  # what another process listening on the channel would receive
    other = await asyncpg.connect(asyncpg_dsn(database_url))
    await other.add_listener(channel, lambda *args: elsewhere.append(args[2]))
    listener = Listener(database_url, channel)
    await listener.start()
    await listener.wait(0.01)  # the look it takes after connecting
    engine = create_engine(database_url, "public", 2)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            async with session.begin():
                await notify_at_commit(session, channel)
                await notify_at_commit(session, channel)
                started = time.monotonic()
                await listener.wait(0.2)  # not before the commit
                assert time.monotonic() - started >= 0.15
            started = time.monotonic()
            await listener.wait(10)  # woken by the commit
            assert time.monotonic() - started < 0.1

            async with session.begin():
                await notify_at_commit(session, channel)
                await session.rollback()
            started = time.monotonic()
            await listener.wait(0.2)  # rolled back: not woken
            assert time.monotonic() - started >= 0.15
            assert elsewhere == []  # woken in the process: no NOTIFY was sent

            await listener.stop()  # nobody listens here now: PostgreSQL notifies
            async with session.begin():
                await notify_at_commit(session, channel)
            await asyncio.sleep(0.3)
            assert elsewhere == [channel]
    finally:
        await listener.stop()
        await other.close()
        await engine.dispose()
