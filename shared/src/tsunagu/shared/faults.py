"""Transient or permanent: is an error worth waiting out, or will it fail the same way again?

A transient fault is about the database or the broker, not about the message or the request:
the connection was refused or dropped, the server is starting or shutting down, it has too many
connections, a lock or serialisation conflict, a timeout, a Kafka error the client itself calls
retriable. Consumers wait such a fault out without limit (never dead-lettering it), HTTP answers
503 with ``Retry-After``. Everything else is permanent as far as this module knows: an invalid
event, an unknown version, a constraint violation, a bug (ADR 10).

Exceptions arrive wrapped (SQLAlchemy's ``DBAPIError`` around the driver's adapted error around
asyncpg's own), so the whole chain is looked at: ``orig``, ``__cause__`` and ``__context__``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import asyncpg
from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa_exc

#: SQLSTATE classes and codes that say "the server, not the statement": connection exception
#: (08), insufficient resources (53: too many connections, disk full), operator intervention
#: (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 57P04/57P05), system
#: error (58), serialisation failure and deadlock (40001, 40P01), lock not available (55P03),
#: statement cancelled by a timeout (57014).
TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57P", "58")
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014"})

_FILE_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)
_CLOSED_CONNECTION = ("connection is closed", "connection was closed", "underlying connection")


def is_transient(exc: BaseException) -> bool:
    """True if ``exc`` (or anything it wraps) is a database, connection or broker fault."""
    return any(_transient_itself(e) for e in _chain(exc))


def _transient_itself(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError  # the pool had no connection to give in time
        | ConnectionError  # refused, reset, aborted, broken pipe
        | TimeoutError
        | socket.gaierror
        | asyncpg.exceptions.PostgresConnectionError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.TooManyConnectionsError
        | asyncpg.exceptions.ConnectionDoesNotExistError,
    ):
        return True
    if isinstance(exc, OSError) and not isinstance(exc, _FILE_ERRORS):
        # e.g. asyncio's "Multiple exceptions: Connect call failed", or a network errno; a
        # missing file or a permission refused is no network fault.
        return True
    if isinstance(exc, asyncpg.exceptions.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state in TRANSIENT_SQLSTATES or state.startswith(TRANSIENT_SQLSTATE_CLASSES)
    if isinstance(exc, sa_exc.InterfaceError | asyncpg.exceptions.InterfaceError):
        # asyncpg calls a closed connection an interface error, but also a wrong number of
        # query arguments: only the first is the server's doing.
        text = str(exc).lower()
        return any(phrase in text for phrase in _CLOSED_CONNECTION)
    if isinstance(exc, kafka_errors.KafkaError):
        return bool(exc.retriable) or isinstance(
            exc, kafka_errors.KafkaTimeoutError | kafka_errors.KafkaConnectionError
        )
    return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                todo.append(linked)
