"""What changed in a service's database, pushed to its live pages (server-sent events).

A trigger ``pg_notify``s a channel at commit with the changed row's key (a case id, an event
id); PostgreSQL delivers one notification per distinct payload per transaction. One connection
per process LISTENs; every open stream waits on this feed and looks again only when something
it shows may have changed, so an idle stream costs nothing but a keep-alive. A notification can
be lost (the connection drops, the database restarts): on reconnecting the feed wakes everyone
once, and the streams still look on their own now and then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import asyncpg

from tsunagu.shared.db import asyncpg_dsn
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

#: Changes remembered for streams that were busy rendering when they came.
_REMEMBERED = 1000
#: How long to wait before trying the connection again after it failed.
_RETRY_SECONDS = 5.0


class ChangeFeed:
    """A background job (``start``/``stop``): LISTEN, and tell the waiting streams.

    ``version`` counts notifications; ``wait(since, timeout)`` returns the keys changed after
    ``since`` (the notifications' payloads: a case id, an event id; ``None``: unknown, so
    anything may have changed) and the version now.
    """

    def __init__(self, database_url: str, channel: str) -> None:
        self.database_url = database_url
        self.channel = channel
        self.version = 0
        self._recent: deque[tuple[int, str | None]] = deque(maxlen=_REMEMBERED)
        self._changed = asyncio.Condition()
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_listening())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._close()

    @property
    def listening(self) -> bool:
        """Whether notifications arrive now (if not, the streams poll as before)."""
        return self._connection is not None and not self._connection.is_closed()

    async def wait(self, since: int, seconds: float) -> tuple[int, frozenset[str] | None]:
        """Until something changed after version ``since``, or ``seconds`` have passed."""
        async with self._changed:
            if self.version == since:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self.version != since), seconds
                    )
            return self.version, self._since(since)

    def _since(self, version: int) -> frozenset[str] | None:
        if version == self.version:
            return frozenset()
        if not self._recent or self._recent[0][0] > version + 1:
            return None  # more changed than we remember
        keys: set[str] = set()
        for v, key in self._recent:
            if v > version:
                if key is None:
                    return None
                keys.add(key)
        return frozenset(keys)

    async def _announce(self, key: str | None) -> None:
        async with self._changed:
            self.version += 1
            self._recent.append((self.version, key))
            self._changed.notify_all()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        asyncio.get_running_loop().create_task(self._announce(payload or None))

    async def _keep_listening(self) -> None:
        while True:
            if self._connection is None or self._connection.is_closed():
                await self._connect()
            await asyncio.sleep(_RETRY_SECONDS)

    async def _connect(self) -> None:
        await self._close()
        try:
            connection = await asyncpg.connect(asyncpg_dsn(self.database_url), timeout=5)
            await connection.add_listener(self.channel, self._on_notify)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            log.warning("change_feed_unavailable", channel=self.channel, error=type(exc).__name__)
            return
        self._connection = connection
        await self._announce(None)  # whatever changed while we were not listening

    async def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None
