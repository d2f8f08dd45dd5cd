"""The deadline scanner: a background job that escalates overdue referrals (domain rule 8)."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.routing.service_layer.handlers import Routing, escalate_overdue
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)


class DeadlineScanner:
    """Runs ``escalate_overdue`` every ``interval`` seconds until stopped.

    Every replica runs one; the claim with ``FOR UPDATE SKIP LOCKED`` keeps them from
    escalating the same referral twice, so no leader election is needed.
    """

    def __init__(
        self,
        routing: Routing,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval: float,
        batch_size: int,
    ) -> None:
        self.routing = routing
        self.sessions = sessions
        self.interval = interval
        self.batch_size = batch_size
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="routing-deadline-scanner")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def scan_once(self) -> int:
        return await escalate_overdue(self.routing, self.sessions, batch_size=self.batch_size)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.scan_once()
            except Exception:
                log.exception("deadline_scan_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
