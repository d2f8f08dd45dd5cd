"""The ended sign-ins are read from the service's own database on every request (cached for a
moment). While that database is unreachable (a real PostgreSQL behind a proxy that is cut),
requests keep the last view for a while and then get 503; they do not each open a connection
and log a line: one try a second, one warning, one line when the view is read again."""

from __future__ import annotations

import asyncio
import time

import pytest
import structlog
from fastapi import HTTPException
from sqlalchemy import MetaData, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker

from tsunagu.devstack.proxy import TcpProxy
from tsunagu.shared.auth import Principal
from tsunagu.shared.db import create_engine
from tsunagu.shared.revocation import (
    RevocationCache,
    revoked_session_table,
    staff_token_version_table,
)

pytestmark = pytest.mark.integration

SCHEMA = "revocation_probe"


class CountingCache(RevocationCache):
    """The real cache, counting how often it goes to the database."""

    loads = 0

    async def _load(self) -> None:
        self.loads += 1
        await super()._load()


async def test_an_outage_is_tried_once_a_second_warned_once_and_its_end_said_once(database_url):
    metadata = MetaData(schema=SCHEMA)
    ended = revoked_session_table(metadata)
    versions = staff_token_version_table(metadata)
    direct = create_engine(database_url, SCHEMA, 2)
    async with direct.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        await conn.run_sync(metadata.create_all)
        # kenji's password changed: tokens issued before (version 1) are refused.
        await conn.execute(versions.insert().values(username="kenji", version=2))
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    engine = create_engine(proxy.url(database_url), SCHEMA, 2)
    cache = CountingCache(
        async_sessionmaker(engine),
        ended,
        versions,
        refresh_seconds=0.1,
        stale_seconds=3.0,
        retry_seconds=0.5,
    )
    old = Principal(username="kenji", roles=frozenset({"uketsuke"}), version=1)
    current = Principal(username="kenji", roles=frozenset({"uketsuke"}), version=2)
    try:
        assert await cache.revoked(old) is True
        assert await cache.revoked(current) is False
        with structlog.testing.capture_logs() as logs:
            await proxy.cut()
            loads = cache.loads
            answers = []
            started = time.monotonic()
            while time.monotonic() - started < 2.0:  # requests every 20 ms: about 100
                answers.append(await cache.revoked(old))
                await asyncio.sleep(0.02)
            # The last view still serves: the old token stays refused, and the database was
            # tried about once every 0.5 s, not once a request.
            assert all(answers) and len(answers) > 50
            assert 2 <= cache.loads - loads <= 6, cache.loads - loads

            await asyncio.sleep(1.5)  # the view is now older than stale_seconds
            with pytest.raises(HTTPException) as refused:
                await cache.revoked(current)
            assert refused.value.status_code == 503

            await proxy.restore()
            await asyncio.sleep(0.6)
            assert await cache.revoked(current) is False
            assert await cache.revoked(old) is True
        events = [e for e in logs if e["event"].startswith("revocations_")]
        assert [e["event"] for e in events] == ["revocations_not_read", "revocations_read_again"]
        assert events[0]["error"] and "exc_info" not in events[0]
        assert events[1]["tries"] >= 3 and events[1]["failing_seconds"] >= 3.0
    finally:
        await engine.dispose()
        await proxy.cut()
        async with direct.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await direct.dispose()
