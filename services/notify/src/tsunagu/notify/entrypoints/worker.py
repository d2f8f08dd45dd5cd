"""The sender worker: a background job that runs the sender until stopped.

It runs a batch as soon as a delivery that is due now is scheduled (a wake-up sent at the
scheduling transaction's commit, ``scheduling.DUE_CHANNEL``), and otherwise every
``poll_seconds``: for deliveries that fall due later (quiet hours, retries) and in case a
wake-up is lost.

Every replica runs one; the claim (``FOR UPDATE SKIP LOCKED`` plus a lease) keeps them from
sending the same delivery at once, so no leader election is needed.
"""

from __future__ import annotations

import asyncio

from tsunagu.notify.service_layer.sender import Sender
from tsunagu.shared.logs import get_logger
from tsunagu.shared.wakeup import Listener

log = get_logger(__name__)


class SenderWorker:
    def __init__(self, sender: Sender, *, listener: Listener, poll_seconds: float) -> None:
        self.sender = sender
        self.listener = listener
        self.poll_seconds = poll_seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stopping.clear()
        await self.listener.start()
        self._task = asyncio.create_task(self._run(), name="notify-sender")

    async def stop(self) -> None:
        """Finishes the batch in hand (its sends and marks), then returns."""
        self._stopping.set()
        self.listener.wake()
        if self._task is not None:
            await self._task
            self._task = None
        await self.listener.stop()
        await self.sender.close()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = await self.sender.run_once()
            except Exception:
                log.exception("sender_batch_failed")
                claimed = 0
            if claimed >= self.sender.batch_size:
                continue  # more is due
            await self.listener.wait(self.poll_seconds)
