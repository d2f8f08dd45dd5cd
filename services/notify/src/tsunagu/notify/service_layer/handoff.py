"""Deliveries due now, leased in the transaction that plans them and handed to this process's
sender when it commits (ADR 27): sent without a claim of their own. A transaction that ends
without a commit this process saw gives its leases back (ADR 29).

The planning transaction inserts a delivery that is due at once already ``sending``, with a
lease token and ``next_attempt_at = now + lease``, exactly as the sender's claim would leave it.
Right after the commit (a SQLAlchemy ``after_commit`` hook, as for the in-process wake-ups of
ADR 23) the rows go to the sender, which re-reads the residents' consent and sends. A rolled-back
transaction hands nothing (its rows are gone with it). A process that dies between the commit
and the send leaves the deliveries leased: when the lease runs out any sender claims them, as
after a crash after a claim.

Only the outermost transaction hands over (inside a savepoint the plan is scheduled as before),
only while a sender runs in this process, and only as many deliveries as the sender has room
for (``Sender.room``: its claimed and handed sends together stay within a batch, so a lease
still outlasts them). The rest are scheduled, and the sender woken, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_PENDING = "tsunagu_notify_handoff"  # session.info key: (the transaction, the Handoff, rows)


class Receiver(Protocol):
    """The sender's side (``Sender``)."""

    #: Whether it sends what it is handed (false once stopped: left to the lease).
    accepting: bool

    def room(self) -> int: ...

    def reserve(self, count: int) -> None: ...

    def release(self, count: int) -> None: ...

    def take(self, rows: list[Mapping[str, Any]], token: str) -> None:
        """Send ``rows`` (leased under ``token``); releases their room when done."""

    def forgo(self, token: str) -> None:
        """Nothing will be sent under ``token``: rows that hold it are given back (ADR 29)."""


class Handoff:
    """The bridge between planning and the sender running in this process (none: nothing is
    handed over)."""

    def __init__(self) -> None:
        self._receiver: Receiver | None = None

    def attach(self, receiver: Receiver) -> None:
        receiver.accepting = True
        self._receiver = receiver

    def detach(self) -> None:
        if self._receiver is not None:
            self._receiver.accepting = False
        self._receiver = None

    def room(self, session: AsyncSession) -> int:
        """How many due deliveries this transaction may hand over (0: schedule them)."""
        if self._receiver is None or session.in_nested_transaction():
            return 0
        if session.sync_session.get_transaction() is None:
            return 0
        return self._receiver.room()

    @contextlib.contextmanager
    def reserved(self, count: int) -> Iterator[None]:
        """Room for ``count`` sends, held for the duration of the block."""
        receiver = self._receiver
        if receiver is None:
            yield
            return
        receiver.reserve(count)
        try:
            yield
        finally:
            receiver.release(count)

    def hold(self, session: AsyncSession, rows: list[Mapping[str, Any]], token: str) -> None:
        """Rows inserted leased under ``token``: handed to the sender when the transaction
        commits. Their room is reserved until then."""
        if not rows:
            return
        receiver = self._receiver
        if receiver is None:  # cannot happen after ``room`` said yes; the lease covers it
            return
        receiver.reserve(len(rows))
        transaction = session.sync_session.get_transaction()
        held = session.info.get(_PENDING)
        if held is None or held[0] is not transaction:
            held = (transaction, [])
            session.info[_PENDING] = held
        held[1].append((receiver, list(rows), token))


def _held(session: AsyncSession) -> list[tuple[Receiver, list[Mapping[str, Any]], str]]:
    held = session.info.get(_PENDING)
    if held is None or held[0] is not session.sync_session.get_transaction():
        return []
    entries: list[tuple[Receiver, list[Mapping[str, Any]], str]] = held[1]
    return entries


def tokens(session: AsyncSession) -> list[str]:
    """The lease tokens of the deliveries this transaction will hand over."""
    return [token for _, _, token in _held(session)]


def take_back(session: AsyncSession, ids: set[str]) -> None:
    """Deliveries this transaction leased to the sender, then cancelled, suppressed or erased
    (in the same transaction): not handed over after all."""
    for receiver, rows, _ in _held(session):
        kept = [r for r in rows if r["id"] not in ids]
        receiver.release(len(rows) - len(kept))
        rows[:] = kept


@event.listens_for(Session, "after_commit")
def _hand_after_commit(session: Session) -> None:
    held = session.info.pop(_PENDING, None)
    if held is None:
        return
    for receiver, rows, token in held[1]:
        if not rows:
            continue
        try:
            receiver.take(rows, token)  # the room reserved goes with them
        except Exception:  # e.g. no running loop: nothing sent, the token's rows given back
            receiver.release(len(rows))
            receiver.forgo(token)


@event.listens_for(Session, "after_transaction_end")
def _release_unhanded(session: Session, transaction: SessionTransaction) -> None:
    held = session.info.get(_PENDING)
    if held is None or held[0] is not transaction:
        return
    session.info.pop(_PENDING, None)
    for receiver, rows, token in held[1]:
        receiver.release(len(rows))
        # Ended without a commit we saw: rolled back, or its COMMIT reached the server and the
        # answer was lost (a hung database, a dropped connection). Then its rows are leased
        # under the token and nobody sends them: the sender gives them back (ADR 29).
        receiver.forgo(token)
