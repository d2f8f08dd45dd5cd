"""Each case's lock, which an erasure and the consumers whose rows it rewrites take turns on.

An erasure rewrites a case's report facts and its referrals' words in intake's own transaction,
not through an event read in order behind the case's others. So a batch of report facts, or of
the read model's routing events, takes its cases' locks (shared) before it looks for their
tombstones, and an erasure takes them alone before any row of the cases. Whichever comes second
waits for the other's commit and then, in read committed, sees it (ADR 26).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.shared.contracts.envelope import Envelope


def case_lock_key(case_id: str) -> int:
    """The case's lock, a signed 64-bit advisory lock key; a collision only makes a
    batch and an erasure of two cases take turns."""
    digest = hashlib.blake2b(f"intake:report-case:{case_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# One statement for any number of cases, the locks taken in the order of the (sorted) array.
_LOCK_CASES = {
    True: text(
        "SELECT pg_advisory_xact_lock_shared(k) FROM unnest(CAST(:keys AS bigint[])) AS u(k)"
    ),
    False: text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS u(k)"),
}


async def lock_cases(session: AsyncSession, case_ids: Iterable[str], *, shared: bool) -> None:
    """Take the cases' locks until the transaction ends, in key order: shared for a
    batch of facts (and of the read model's routing events), alone for an erasure, which takes
    them before any row of the cases. Taking them again in one transaction is harmless."""
    keys = sorted({case_lock_key(case_id) for case_id in case_ids})
    if keys:
        await session.execute(_LOCK_CASES[shared], {"keys": keys})


async def lock_events(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """The consumer's ``lock``: the locks of the events' cases, shared, before their
    tombstones are read. One statement per batch."""
    case_ids = [c for e in envelopes if isinstance(c := e.data.get("case_id"), str)]
    await lock_cases(session, case_ids, shared=True)
