"""Every service's migration history goes down to nothing and up again (real PostgreSQL).

The steps several services share (outbox, inbox, tombstones of erased cases, ended sign-ins)
live once in ``tsunagu.shared``; each service's revisions call them. This walks every history
both ways in a database of its own, so a shared step that no longer matches a revision's
downgrade (or a revision that lost its step) fails here, not in an operator's rollback.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from alembic import command

from tsunagu.devstack.infra import create_database, drop_database
from tsunagu.shared import services
from tsunagu.shared.db import asyncpg_dsn
from tsunagu.shared.migrations import alembic_config

pytestmark = pytest.mark.integration

# The tables every service has, each created by a step that lives in tsunagu.shared.
PLATFORM_TABLES = {"outbox", "inbox", "erased_case", "revoked_session", "staff_token_version"}


async def _tables(url: str, schema: str) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    finally:
        await conn.close()
    return {row["table_name"] for row in rows}


@pytest.mark.parametrize("service", services.names())
async def test_history_goes_down_to_nothing_and_up_again(database_url: str, service: str) -> None:
    database = f"roundtrip_{service}_{uuid.uuid4().hex[:8]}"
    url = await create_database(database_url, database)
    cfg = alembic_config(service, url)
    try:
        await asyncio.to_thread(command.upgrade, cfg, "head")
        up = await _tables(url, service)
        assert up >= PLATFORM_TABLES

        await asyncio.to_thread(command.downgrade, cfg, "base")
        assert await _tables(url, service) == {"alembic_version"}

        await asyncio.to_thread(command.upgrade, cfg, "head")
        assert await _tables(url, service) == up
    finally:
        await drop_database(database_url, database)
