"""A service's own database role: its schema only, and the audit log append-only (real PostgreSQL)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tsunagu.devstack.infra import create_database, drop_database, with_database
from tsunagu.shared.db import asyncpg_dsn
from tsunagu.shared.db_roles import ensure_role, grant, url_as

pytestmark = pytest.mark.integration


async def test_the_role_may_fill_in_the_chain_but_never_change_an_entry(database_url: str) -> None:
    # A database of its own: the probe's stand-in for intake's audit log must never meet the
    # schema that intake's migrations create in the shared test database.
    schema = "intake"
    probe_db = f"roles_probe_{uuid.uuid4().hex[:8]}"
    database_url = await create_database(database_url, probe_db)
    owner = await asyncpg.connect(asyncpg_dsn(database_url))
    role = f"probe_{uuid.uuid4().hex[:8]}"
    try:
        await owner.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await owner.execute(
            "CREATE TABLE IF NOT EXISTS intake.audit_log (audit_id int, actor text, "
            "chain_seq bigint, prev_hash text, hash text)"
        )
        await owner.execute("INSERT INTO intake.audit_log (audit_id, actor) VALUES (1, 'a')")
        await ensure_role(database_url, role, "probe-password-0123456789")
        await grant(database_url, schema, role)
        conn = await asyncpg.connect(asyncpg_dsn(url_as(database_url, role, "x")))
        outcomes = []
        for statement in (
            "UPDATE intake.audit_log SET hash = 'h', prev_hash = 'p', chain_seq = 1",
            "UPDATE intake.audit_log SET actor = 'b'",
            "DELETE FROM intake.audit_log",
        ):
            try:
                await conn.execute(statement)
                outcomes.append("ok")
            except asyncpg.PostgresError as exc:
                outcomes.append(str(exc.sqlstate))
        await conn.close()
        assert outcomes == ["ok", "42501", "42501"]
    finally:
        await owner.execute(f'DROP OWNED BY "{role}"')
        await owner.close()
        await drop_database(database_url, probe_db)
        admin = await asyncpg.connect(asyncpg_dsn(with_database(database_url, "postgres")))
        try:
            await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        finally:
            await admin.close()
