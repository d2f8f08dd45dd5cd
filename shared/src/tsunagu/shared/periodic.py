"""A periodic job: the one loop behind every background worker that runs a batch now and then.

Subclass `PeriodicJob`, implement ``run_once`` (one batch, in transactions of its own; returns
how many items it handled) and give the job to ``runtime.background``. The loop:

- runs a batch, then waits ``period`` seconds, or less when a `wakeup.Listener` is given and a
  wake-up arrives (a hint that work is waiting; the job still polls, so a lost hint costs
  latency only);
- runs again at once when a batch came back full (``batch_size`` items: more is waiting);
- survives a failed batch: it logs the error's type only (never its message, which may quote
  a resident's data) and tries again after the period; a database outage is waited out;
- on ``stop`` finishes the batch in hand, then returns (its transactions are never cut short).

Every replica runs its own copy; a job that must not handle an item twice claims its rows with
``FOR UPDATE SKIP LOCKED`` (no leader election).
"""

from __future__ import annotations

import asyncio
import contextlib

from tsunagu.shared.faults import is_transient
from tsunagu.shared.logs import get_logger
from tsunagu.shared.wakeup import Listener

log = get_logger(__name__)


class PeriodicJob:
    def __init__(
        self,
        name: str,
        *,
        period: float,
        batch_size: int | None = None,
        listener: Listener | None = None,
    ) -> None:
        self.name = name
        self.period = period
        self.batch_size = batch_size
        self.listener = listener
        self.failures = 0  # batches failed in a row (shown in the log)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """One batch; returns how many items it handled."""
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        """True once ``stop`` was called: a long batch may end early between its items."""
        return self._stopping.is_set()

    async def start(self) -> None:
        self._stopping.clear()
        if self.listener is not None:
            await self.listener.start()
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Finish the batch in hand, then return."""
        self._stopping.set()
        if self.listener is not None:
            self.listener.wake()
        if self._task is not None:
            await self._task
            self._task = None
        if self.listener is not None:
            await self.listener.stop()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            handled = await self._run_batch()
            if self._stopping.is_set():
                return
            if self.batch_size is not None and handled >= self.batch_size:
                continue  # a full batch: more is waiting
            if self.listener is not None:
                await self.listener.wait(self.period)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.period)

    async def _run_batch(self) -> int:
        try:
            handled = await self.run_once()
        except Exception as exc:
            self.failures += 1
            # Once when a fault starts, then every tenth batch: an outage is not a log flood.
            if self.failures == 1 or self.failures % 10 == 0:
                log.warning(
                    "periodic_job_failed",
                    job=self.name,
                    error=type(exc).__name__,
                    transient=is_transient(exc),
                    failures=self.failures,
                )
            return 0
        if self.failures:
            log.info("periodic_job_recovered", job=self.name, failures=self.failures)
            self.failures = 0
        return handled
