"""The hand-written migration creates exactly what ``adapters.orm.tables`` declares."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from tsunagu.food_distribution.adapters.orm import SCHEMA, tables
from tsunagu.shared.db import async_url

pytestmark = pytest.mark.integration


async def test_migration_matches_the_declared_tables(food_schema, database_url: str) -> None:
    def only_ours(name, type_, parent_names) -> bool:
        return name == SCHEMA if type_ == "schema" else name != "alembic_version"

    def diff(connection) -> list:
        context = MigrationContext.configure(
            connection,
            opts={"include_schemas": True, "include_name": only_ours, "compare_type": True},
        )
        return compare_metadata(context, tables.metadata)

    # Not the service's engine: its search_path would make the schema look like the default one.
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
