"""Which errors are waited out (transient) and which are dead-lettered (permanent)."""

from __future__ import annotations

import socket

import asyncpg
import pytest
from aiokafka import errors as kafka_errors
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from tsunagu.shared.db import create_engine
from tsunagu.shared.faults import is_transient
from tsunagu.shared.messaging import PermanentError


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrapped(orig: Exception, kind: type[sa_exc.DBAPIError] = sa_exc.DBAPIError,
            invalidated: bool = False) -> sa_exc.DBAPIError:  # fmt: skip
    """An error as SQLAlchemy raises it: the driver's error in ``orig`` and as the cause."""
    try:
        raise kind("SELECT 1", None, orig, connection_invalidated=invalidated) from orig
    except sa_exc.DBAPIError as exc:
        return exc


async def test_a_refused_connection_through_the_real_engine_is_transient() -> None:
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/x", "probe", 1)
    try:
        caught: BaseException | None = None
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            caught = exc
        assert caught is not None and is_transient(caught)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(104, "reset by peer"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 5432)"),
        TimeoutError(),
        socket.gaierror(-2, "Name or service not known"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        wrapped(
            asyncpg.exceptions.InterfaceError("the underlying connection is closed"),
            sa_exc.InterfaceError,
        ),
        wrapped(asyncpg.exceptions.CannotConnectNowError("starting up")),
        wrapped(RuntimeError("anything"), invalidated=True),
        wrapped(RuntimeError("server closed the connection"), sa_exc.OperationalError),
        sa_exc.TimeoutError("QueuePool limit of size 20 overflow 0 reached"),
        sa_exc.DisconnectionError(),
        kafka_errors.KafkaConnectionError("Unable to bootstrap"),
        kafka_errors.KafkaTimeoutError(),
        kafka_errors.NotEnoughReplicasError(),
        kafka_errors.NotLeaderForPartitionError(),
        kafka_errors.RequestTimedOutError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient(error: Exception) -> None:
    assert is_transient(error)


def test_a_fault_wrapped_by_a_handler_is_still_seen() -> None:
    def load() -> None:
        try:
            raise ConnectionResetError(104, "reset")
        except ConnectionResetError as inner:
            raise RuntimeError("could not load the case") from inner

    with pytest.raises(RuntimeError) as caught:
        load()
    assert is_transient(caught.value)


class _Model(BaseModel):
    n: int


def _validation_error() -> ValidationError:
    try:
        _Model(n="many")  # type: ignore[arg-type]
    except ValidationError as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize(
    "error",
    [
        PermanentError("unknown concern code"),
        ValueError("bad value"),
        KeyError("programme"),
        RuntimeError("database said no"),
        _validation_error(),
        FileNotFoundError(2, "No such file", "template.txt"),
        PermissionError(13, "Permission denied"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'),
        asyncpg.exceptions.InterfaceError("the server expects 2 arguments, 1 was passed"),
        wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key"), sa_exc.IntegrityError),
        wrapped(
            asyncpg.exceptions.InterfaceError("the server expects 2 arguments"),
            sa_exc.InterfaceError,
        ),
        kafka_errors.MessageSizeTooLargeError(),
        kafka_errors.TopicAuthorizationFailedError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent(error: Exception) -> None:
    assert not is_transient(error)
