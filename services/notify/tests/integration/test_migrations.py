"""The hand-written migration creates exactly the tables the code uses."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tsunagu.notify.adapters.orm import tables
from tsunagu.shared.db import create_engine

pytestmark = pytest.mark.integration


async def test_migration_matches_the_tables(database_url, migrated):
    migrated("notify")
    engine = create_engine(database_url, "notify", 1)

    def diff(connection):
        context = MigrationContext.configure(
            connection, opts={"include_schemas": False, "version_table_schema": "notify"}
        )
        return compare_metadata(context, tables.metadata)

    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
