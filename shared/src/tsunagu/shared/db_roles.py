"""One PostgreSQL role per service, granted only its own schema (ADR 6).

The schemas and tables belong to the owner role that runs the migrations (``tsunagu migrate``).
Each service connects as ``tsunagu_<service>``: it may read and change the rows of its own
schema's tables and use their sequences, nothing else: no other schema, no DDL. Append-only
tables (each service's audit log) may only be read and added to. ``tsunagu migrate`` applies these
grants after migrating, for every service role that exists; the launcher, the test stack,
compose's init job and CloudNativePG create the roles.
"""

from __future__ import annotations

import asyncpg

from tsunagu.shared.db import asyncpg_dsn

#: Tables a service may only add to and read: the audit trail cannot be edited by the service
#: whose actions it records. Only the hash-chain columns may be filled in afterwards
#: (``tsunagu.shared.audit.chain``); the entries themselves never change.
APPEND_ONLY: dict[str, tuple[str, ...]] = {
    service: ("audit_log",) for service in ("intake", "notify", "food_distribution")
}
CHAIN_COLUMNS = ("chain_seq", "prev_hash", "hash")


def service_role(service: str) -> str:
    return f"tsunagu_{service}"


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


def grant_statements(service: str, role: str | None = None) -> list[str]:
    """What the schema's owner runs so that ``role`` may use ``service``'s schema, and only
    that. Idempotent; also covers tables and sequences a later migration adds."""
    schema, who = _ident(service), _ident(role or service_role(service))
    statements = [
        f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {who}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {who}",
    ]
    chain = ", ".join(_ident(c) for c in CHAIN_COLUMNS)
    for table in APPEND_ONLY.get(service, ()):
        target = f"{schema}.{_ident(table)}"
        statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {target} FROM {who}")
        statements.append(f"GRANT UPDATE ({chain}) ON {target} TO {who}")
    return statements


async def existing_roles(database_url: str, roles: list[str]) -> set[str]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch("SELECT rolname FROM pg_roles WHERE rolname = ANY($1)", roles)
    finally:
        await conn.close()
    return {row["rolname"] for row in rows}


async def grant(database_url: str, service: str, role: str | None = None) -> None:
    """Apply ``grant_statements`` as the owner (``database_url``), in one transaction."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            for statement in grant_statements(service, role):
                await conn.execute(statement)
    finally:
        await conn.close()


async def ensure_role(admin_url: str, role: str, password: str) -> None:
    """Create (or update the password of) a login role that owns nothing and may connect."""
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        verb = "ALTER" if exists else "CREATE"
        # Passwords cannot be bound parameters in DDL: quote it as a literal.
        literal = await conn.fetchval("SELECT quote_literal($1)", password)
        await conn.execute(
            f"{verb} ROLE {_ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"NOINHERIT PASSWORD {literal}"
        )
        database = await conn.fetchval("SELECT quote_ident(current_database())")
        await conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {_ident(role)}")
    finally:
        await conn.close()


def url_as(database_url: str, role: str, password: str) -> str:
    """The same database, connecting as ``role``."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url).set(username=role, password=password)
    return url.render_as_string(hide_password=False)
