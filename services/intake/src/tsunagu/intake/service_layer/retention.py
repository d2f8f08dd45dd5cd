"""The retention job: residents whose last contact is older than the retention period
(``TSUNAGU_RETENTION_DAYS``, about 5 years by default) are erased the same way as on request."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.intake.service_layer.cases import Ports
from tsunagu.intake.service_layer.erasure import due_for_retention, erase_resident
from tsunagu.shared.logs import get_logger
from tsunagu.shared.periodic import PeriodicJob

log = get_logger(__name__)

ACTOR = "system:retention"
REASON = "保存期間の満了（最後の相談から所定の期間が経過）"


class RetentionJob(PeriodicJob):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ports: Ports,
        retention_days: int,
        period_seconds: float,
    ) -> None:
        super().__init__("retention", period=period_seconds)
        self.sessions = sessions
        self.ports = ports
        self.retention_days = retention_days

    async def run_once(self) -> int:
        """Erase every resident due; returns how many were erased."""
        erased = 0
        while True:
            async with self.sessions() as session:
                due = await due_for_retention(session, self.retention_days)
            if not due:
                break
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
                if self.stopping:  # each erasure is whole; the rest wait for the next start
                    break
            if self.stopping:
                break
        if erased:
            log.info("retention_erased", residents=erased)
        return erased
