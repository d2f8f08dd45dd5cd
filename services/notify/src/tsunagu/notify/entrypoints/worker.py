"""The sender worker: a background job that runs the sender every ``poll_seconds`` until stopped.

Every replica runs one; the claim (``FOR UPDATE SKIP LOCKED`` plus a lease) keeps them from
sending the same delivery at once, so no leader election is needed.
"""

from __future__ import annotations

import asyncio
import contextlib

from tsunagu.notify.service_layer.sender import Sender
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)


class SenderWorker:
    def __init__(self, sender: Sender, *, poll_seconds: float) -> None:
        self.sender = sender
        self.poll_seconds = poll_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="notify-sender")

    async def stop(self) -> None:
        """Finishes the batch in hand (its sends and marks), then returns."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = await self.sender.run_once()
            except Exception:
                log.exception("sender_batch_failed")
                claimed = 0
            if claimed >= self.sender.batch_size:
                continue  # more is due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_seconds)
