"""The sender worker: a background job that runs the sender until stopped.

Deliveries due now that the planning transaction of this process leased to it are handed to it
at commit and sent at once, without a claim (``service_layer.handoff``, ADR 27). Otherwise it
runs a batch as soon as a delivery that is due now is scheduled (a wake-up sent at the
scheduling transaction's commit, ``scheduling.DUE_CHANNEL``), and otherwise every
``poll_seconds``: for deliveries that fall due later (quiet hours, retries) and in case a
wake-up is lost. A full batch runs the next one at once (``tsunagu.shared.periodic``).

Every replica runs one; the claim (``FOR UPDATE SKIP LOCKED`` plus a lease) keeps them from
sending the same delivery at once, so no leader election is needed.
"""

from __future__ import annotations

from tsunagu.notify.service_layer.handoff import Handoff
from tsunagu.notify.service_layer.sender import Sender
from tsunagu.shared.periodic import PeriodicJob
from tsunagu.shared.wakeup import Listener


class SenderWorker(PeriodicJob):
    def __init__(
        self,
        sender: Sender,
        *,
        listener: Listener,
        poll_seconds: float,
        handoff: Handoff | None = None,
    ) -> None:
        super().__init__(
            "notify-sender", period=poll_seconds, batch_size=sender.batch_size, listener=listener
        )
        self.sender = sender
        self.handoff = handoff

    async def start(self) -> None:
        await super().start()
        if self.handoff is not None:
            self.handoff.attach(self.sender)  # deliveries due now come leased (ADR 27)

    @property
    def poll_seconds(self) -> float:
        return self.period

    async def run_once(self) -> int:
        return await self.sender.run_once()

    async def stop(self) -> None:
        """Finishes the batch in hand and the sends handed over (sent and marked), then
        returns; deliveries planned from now on are scheduled, not handed over."""
        if self.handoff is not None:
            self.handoff.detach()
        await self.sender.wait_for_handed()
        await super().stop()
        await self.sender.close()
