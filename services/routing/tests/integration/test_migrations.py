"""The hand-written migration creates exactly the tables the code declares."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from tsunagu.routing.adapters.orm import tables
from tsunagu.shared.db import async_url

pytestmark = pytest.mark.integration


def included(name: str | None, type_: str, _: object) -> bool:
    if type_ == "schema":
        return name == "routing"
    return name != "alembic_version"


async def test_migrated_schema_matches_the_tables(schema: None, database_url: str) -> None:
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:

            def diff(sync_conn):
                context = MigrationContext.configure(
                    sync_conn,
                    opts={
                        "include_schemas": True,
                        "include_name": included,
                        "compare_server_default": True,
                    },
                )
                return compare_metadata(context, tables.metadata)

            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
