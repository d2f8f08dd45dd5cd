"""The retention job: residents whose last contact is older than the retention period
(``TSUNAGU_RETENTION_DAYS``, about 5 years by default) are erased the same way as on request."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.intake.service_layer.cases import Ports
from tsunagu.intake.service_layer.erasure import due_for_retention, erase_resident
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

ACTOR = "system:retention"
REASON = "保存期間の満了（最後の相談から所定の期間が経過）"


class RetentionJob:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ports: Ports,
        retention_days: int,
        period_seconds: float,
    ) -> None:
        self.sessions = sessions
        self.ports = ports
        self.retention_days = retention_days
        self.period_seconds = period_seconds
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Erase every resident due; returns how many were erased."""
        erased = 0
        while True:
            async with self.sessions() as session:
                due = await due_for_retention(session, self.retention_days)
            if not due:
                return erased
            for resident_id in due:
                async with self.sessions() as session, session.begin():
                    await erase_resident(
                        session,
                        self.ports,
                        resident_id,
                        erased_by=ACTOR,
                        basis="retention",
                        reason=REASON,
                    )
                erased += 1

    async def _run(self) -> None:
        while True:
            try:
                erased = await self.run_once()
                if erased:
                    log.info("retention_erased", residents=erased)
            except Exception as exc:
                log.warning("retention_failed", error=type(exc).__name__)
            await asyncio.sleep(self.period_seconds)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
