"""Wake-ups, delivered at commit: a hint that work is waiting.

Whoever waits for rows (the outbox relay, notify's sender) still polls; a wake-up only makes it
look now instead of at the next poll. So a lost wake-up costs latency, never data.

``notify_at_commit`` wakes each channel at most once per transaction: a transaction that writes
fifty outbox rows wakes the relay once. When a `Listener` of the channel runs in the same
process (the relay and the sender run beside the code that writes their rows), it is woken in
the process right after the commit, without a statement: no round trip, and no wait for
PostgreSQL to deliver the notification (ADR 23). Otherwise (a command-line tool, a process
without the waiter) it is a PostgreSQL ``NOTIFY`` sent at commit, which every process's
listener of the channel receives.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from tsunagu.shared.db import asyncpg_dsn
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

_NOTIFY = text("SELECT pg_notify(:channel, '')")
_SENT = "tsunagu_notified"  # session.info key: (the transaction, the channels notified in it)
_LOCAL = "tsunagu_wake_locally"  # session.info key: the channels to wake in-process at commit

#: The listeners started in this process, by channel.
_listeners: dict[str, set[Listener]] = {}


async def notify_at_commit(session: AsyncSession, channel: str) -> None:
    """Wake ``channel``'s listeners when the session's transaction commits (once): in the
    process if one listens here, else through PostgreSQL. Nothing happens on a rollback."""
    transaction = session.get_transaction()
    sent: tuple[object, set[str]] | None = session.info.get(_SENT)
    if sent is None or sent[0] is not transaction:
        sent = (transaction, set())
        session.info[_SENT] = sent
    if channel in sent[1]:
        return
    if _listeners.get(channel):
        session.info.setdefault(_LOCAL, set()).add(channel)
    else:
        await session.execute(_NOTIFY, {"channel": channel})
    sent[1].add(channel)


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    for channel in session.info.pop(_LOCAL, ()):
        for listener in tuple(_listeners.get(channel, ())):
            listener.wake()


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(_LOCAL, None)


class Listener:
    """Listens on one channel on a connection of its own; ``wait`` returns when notified.

    If the connection cannot be made or is lost (a database restart), the waiter just polls,
    and the connection is tried again at the next wait. That is logged once when it starts and
    once when listening again, not at every try.
    """

    def __init__(self, database_url: str, channel: str) -> None:
        self.database_url = database_url
        self.channel = channel
        self._woken = asyncio.Event()
        self._connection: asyncpg.Connection | None = None
        self._unavailable = False

    async def start(self) -> None:
        _listeners.setdefault(self.channel, set()).add(self)
        await self._connect()

    async def stop(self) -> None:
        _listeners.get(self.channel, set()).discard(self)
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    def wake(self) -> None:
        """Wake the waiter from this process (a commit here, or stopping)."""
        self._woken.set()

    async def wait(self, seconds: float) -> None:
        """Until a notification (or ``wake``) since the last wait returned, or ``seconds``."""
        if self._connection is None or self._connection.is_closed():
            await self._connect()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), timeout=seconds)
        self._woken.clear()

    async def _connect(self) -> None:
        try:
            connection = await asyncpg.connect(asyncpg_dsn(self.database_url), timeout=5)
            await connection.add_listener(self.channel, self._on_notify)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if not self._unavailable:
                log.warning("listener_unavailable", channel=self.channel, error=type(exc).__name__)
            self._unavailable = True
            self._connection = None
            return
        if self._unavailable:
            log.info("listener_listening_again", channel=self.channel)
            self._unavailable = False
        self._connection = connection
        self._woken.set()  # anything notified while we were not listening: look once

    def _on_notify(self, *_: object) -> None:
        self._woken.set()
