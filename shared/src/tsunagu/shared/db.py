"""Async engine and session factory; each service keeps its tables in a schema of its own."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import ARRAY, ColumnElement, MetaData, any_, bindparam, event, text
from sqlalchemy import exc as sa_exc
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


#: A server that does not answer (hung, frozen, a network that drops packets) makes a
#: connection attempt or a statement wait for ever: these turn that wait into a ``TimeoutError``,
#: a transient fault (consumers wait it out, HTTP answers 503; ADR 10).
CONNECT_TIMEOUT_SECONDS = 5.0
COMMAND_TIMEOUT_SECONDS = 15.0


def create_engine(
    url: str,
    schema: str,
    pool_size: int = 20,
    *,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    command_timeout: float | None = COMMAND_TIMEOUT_SECONDS,
) -> AsyncEngine:
    """A pool of ``pool_size`` connections, kept open (no overflow connections that would be
    opened and closed again at every burst), with no ping on checkout: SQLAlchemy's asyncpg
    ping is three round trips (BEGIN, a query, ROLLBACK), more than many transactions here
    cost. Instead, checkout asks the driver whether the connection is already known to be
    closed (no round trip; ``refuse_closed``): after a database restart the server's end of
    every pooled connection is gone, so none of them is handed out again and a fresh one is
    opened. A connection that dies unnoticed fails its first statement, SQLAlchemy then
    discards the whole pool, and the error is transient (consumers wait, HTTP answers 503;
    ADR 8, ADR 10). ``connect_timeout`` and ``command_timeout`` (each statement, measured by the
    client) bound the wait on a server that accepts but does not answer."""
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        # Statement parameters are what residents typed: never in an exception or a log.
        hide_parameters=True,
        # JSON and JSONB columns (outbox payloads, plans, reasons) through orjson: the same
        # JSON, a fraction of the standard library's CPU (ADR 22).
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        # application_name: pg_stat_activity shows which service a connection belongs to.
        connect_args={
            "server_settings": {"search_path": f"{schema},public", "application_name": schema},
            "timeout": connect_timeout,
            "command_timeout": command_timeout,
        },
    )
    event.listen(engine.sync_engine.pool, "checkout", refuse_closed)
    return engine


def json_dumps(value: Any) -> str:
    """A JSON column's value as text; as ``json.dumps`` would write it for what the services
    store (non-string keys become strings), without escaping non-ASCII."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout hook: a connection whose socket the driver saw close is not handed out;
    raising ``DisconnectionError`` makes the pool discard it and connect anew."""
    driver = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is not None and is_closed():
        raise sa_exc.DisconnectionError("pooled connection was closed by the server")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def any_of(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``column = ANY(:name)``, the values given as one array parameter when executed.

    The statement that uses it can be built once and taken from SQLAlchemy's compiled cache
    at every call. A statement with ``column.in_(values)`` is built afresh with its values and
    its list expanded into a parameter per value at each execution: measured, about twice the
    time of the same statement built once with ``any_of`` (ADR 22)."""
    return column == any_(bindparam(name, type_=ARRAY(column.type)))
