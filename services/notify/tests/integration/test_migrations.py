"""The hand-written migration creates exactly the tables the code uses."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tsunagu.notify.adapters.orm import tables
from tsunagu.shared.db import async_url

pytestmark = pytest.mark.integration


async def test_migration_matches_the_tables(database_url, settings):
    # search_path left at public, so "notify" is compared as the named schema it is.
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)

    def diff(connection):
        def ours(obj, name, type_, reflected, compare_to):
            if type_ == "table":
                return obj.schema == "notify" and name != "alembic_version"
            return True

        context = MigrationContext.configure(
            connection,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, parent: type_ != "schema" or name == "notify",
                "include_object": ours,
            },
        )
        return compare_metadata(context, tables.metadata)

    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []
