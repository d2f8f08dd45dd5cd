"""The hand-written migration creates exactly the tables the code declares."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.db import create_engine

pytestmark = pytest.mark.integration


def _unqualified(metadata: MetaData) -> MetaData:
    """The same tables without their schema: the connection's search_path is intake's schema."""
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(copy, schema=None)
    return copy


async def test_migrated_schema_matches_the_tables(intake_settings) -> None:
    engine = create_engine(intake_settings.database_url, "intake", 1)
    expected = _unqualified(tables.metadata)

    def diff(sync_conn):
        context = MigrationContext.configure(
            sync_conn,
            opts={"include_name": lambda name, type_, _: name != "alembic_version"},
        )
        return compare_metadata(context, expected)

    try:
        async with engine.connect() as conn:
            changes = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert changes == []
