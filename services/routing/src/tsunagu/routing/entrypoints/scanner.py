"""The deadline scanner: a background job that escalates overdue referrals (domain rule 8)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.routing.service_layer.handlers import Routing, escalate_overdue
from tsunagu.shared.periodic import PeriodicJob


class DeadlineScanner(PeriodicJob):
    """Runs ``escalate_overdue`` every ``interval`` seconds until stopped
    (``tsunagu.shared.periodic``).

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
        super().__init__("routing-deadline-scanner", period=interval)
        self.routing = routing
        self.sessions = sessions
        self.scan_batch_size = batch_size

    @property
    def interval(self) -> float:
        return self.period

    async def scan_once(self) -> int:
        return await escalate_overdue(self.routing, self.sessions, batch_size=self.scan_batch_size)

    async def run_once(self) -> int:
        return await self.scan_once()
