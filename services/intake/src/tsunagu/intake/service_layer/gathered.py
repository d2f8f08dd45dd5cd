"""What a consumer's batch gathers in its transaction, to be written together at its end.

The consumers that decide a whole batch in memory (``report_facts``, ``read_model``; ADR 26)
gather each event's writes at ``prepare``'s start of the batch and write them once at
``finish``, before the inbox transaction commits. The gathering is kept on the session, tied
to the transaction it began in, so a retried batch (a new transaction) starts afresh. An event
applied on its own, outside a batch, is written at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.shared.contracts.envelope import Envelope

T = TypeVar("T")


class Gathered(Generic[T]):
    """``new`` makes an empty gathering; ``write`` writes one (in the caller's transaction)."""

    def __init__(
        self,
        name: str,
        new: Callable[[], T],
        write: Callable[[AsyncSession, T], Awaitable[None]],
    ) -> None:
        self._key = f"tsunagu_intake_{name}"  # session.info key: (the transaction, gathering)
        self._new = new
        self._write = write

    async def prepare(self, session: AsyncSession, batch: list[Envelope]) -> None:
        """Before a consumer's batch: gather its events' writes until ``finish``."""
        transaction = session.sync_session.get_transaction()
        if transaction is not None:
            session.info[self._key] = (transaction, self._new())

    async def finish(self, session: AsyncSession) -> None:
        """After a consumer's batch, before it commits: write what it gathered."""
        held = session.info.pop(self._key, None)
        if held is not None and held[0] is session.sync_session.get_transaction():
            await self._write(session, held[1])

    async def apply(self, session: AsyncSession, add: Callable[[T], None]) -> None:
        """Add an event's writes to the batch's gathering, or write them at once outside one."""
        held = session.info.get(self._key)
        if held is not None and held[0] is session.sync_session.get_transaction():
            add(held[1])
            return
        alone = self._new()
        add(alone)
        await self._write(session, alone)
