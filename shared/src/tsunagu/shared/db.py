"""Async engine and session factory; each service keeps its tables in a schema of its own."""

from __future__ import annotations

from sqlalchemy import MetaData, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

#: Explicit constraint names, so Alembic migrations are stable and readable.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> URL:
    """Accept ``postgresql://`` as well and use asyncpg."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg")


def asyncpg_dsn(url: str) -> str:
    """The same server as a plain libpq DSN, for asyncpg's own connections (LISTEN)."""
    return async_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, schema: str, pool_size: int = 20) -> AsyncEngine:
    """A pool of ``pool_size`` connections, kept open (no overflow connections that would be
    opened and closed again at every burst), with no ping on checkout: SQLAlchemy's asyncpg
    ping is three round trips (BEGIN, a query, ROLLBACK), more than many transactions here
    cost. A connection the server dropped fails its first statement instead, and SQLAlchemy
    then discards the whole pool; consumers retry, so nothing is lost (ADR 8)."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        # application_name: pg_stat_activity shows which service a connection belongs to.
        connect_args={
            "server_settings": {"search_path": f"{schema},public", "application_name": schema}
        },
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
