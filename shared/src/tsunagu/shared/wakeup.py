"""Wake-ups through PostgreSQL LISTEN/NOTIFY: a hint, delivered at commit, that work is waiting.

Whoever waits for rows (the outbox relay, notify's sender) still polls; a wake-up only makes it
look now instead of at the next poll. So a lost notification costs latency, never data.

``notify_at_commit`` sends at most one notification per channel per transaction: a transaction
that writes fifty outbox rows wakes the relay once, and costs one round trip for it, not fifty.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.shared.db import asyncpg_dsn
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

_NOTIFY = text("SELECT pg_notify(:channel, '')")
_SENT = "tsunagu_notified"  # session.info key: (the transaction, the channels notified in it)


async def notify_at_commit(session: AsyncSession, channel: str) -> None:
    """Ask PostgreSQL to notify ``channel`` when the session's transaction commits (once)."""
    transaction = session.get_transaction()
    sent: tuple[object, set[str]] | None = session.info.get(_SENT)
    if sent is None or sent[0] is not transaction:
        sent = (transaction, set())
        session.info[_SENT] = sent
    if channel in sent[1]:
        return
    await session.execute(_NOTIFY, {"channel": channel})
    sent[1].add(channel)


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
        await self._connect()

    async def stop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    def wake(self) -> None:
        """Wake the waiter from this process (e.g. when stopping)."""
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
