"""The consumers' fetch of one batch (``batch_fetcher``): no pause after an idle fetch, and the
linger of a consumer off a case's way to its programmes (ADR 30).

The aiokafka consumer is replaced by a recorder of ``getmany`` calls whose records "arrive"
at given moments of the event loop's clock."""

from __future__ import annotations

import asyncio
from typing import Any

from tsunagu.shared.messaging import IDLE_FETCH_MS, batch_fetcher


class Arrivals:
    """``getmany`` over records that arrive at given seconds after the start; like aiokafka,
    it returns what has arrived (up to ``max_records``), waiting up to ``timeout_ms`` for the
    first one when nothing has."""

    def __init__(self, arrivals: list[tuple[float, str]]) -> None:
        self.arrivals = sorted(arrivals)
        self.taken = 0
        self.calls: list[tuple[int, int]] = []
        self.start = asyncio.get_running_loop().time()

    def _now(self) -> float:
        return asyncio.get_running_loop().time() - self.start

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
        self.calls.append((timeout_ms, max_records))
        deadline = self._now() + timeout_ms / 1000
        while True:
            ready = [r for at, r in self.arrivals[self.taken :] if at <= self._now()]
            if ready or self._now() >= deadline:
                break
            await asyncio.sleep(0.005)
        ready = ready[:max_records]
        self.taken += len(ready)
        return {"tp": ready} if ready else {}


async def test_a_consumer_on_the_way_takes_its_first_record_at_once() -> None:
    kafka = Arrivals([(0.0, "a"), (0.05, "b")])
    fetch = batch_fetcher(max_records=50)
    assert await fetch(kafka) == ("a",)
    assert kafka.calls == [(IDLE_FETCH_MS, 50)]


async def test_a_lingering_consumer_gathers_what_arrives_while_it_waits() -> None:
    kafka = Arrivals([(0.0, "a"), (0.03, "b"), (0.06, "c"), (0.3, "late")])
    fetch = batch_fetcher(max_records=50, linger_ms=100)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await fetch(kafka) == ("a", "b", "c")
    assert 0.1 <= loop.time() - began < 0.25
    # The top-up takes what is there without waiting, and no more than the batch has room for.
    assert kafka.calls == [(IDLE_FETCH_MS, 50), (0, 49)]
    assert await fetch(kafka) == ("late",)


async def test_a_full_batch_is_not_held_back() -> None:
    kafka = Arrivals([(0.0, r) for r in "abc"] + [(0.01, "d")])
    fetch = batch_fetcher(max_records=3, linger_ms=100)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await fetch(kafka) == ("a", "b", "c")
    assert loop.time() - began < 0.05
    assert kafka.calls == [(IDLE_FETCH_MS, 3)]


async def test_a_top_up_never_exceeds_the_batch() -> None:
    kafka = Arrivals([(0.0, "a")] + [(0.02, f"r{i}") for i in range(5)])
    fetch = batch_fetcher(max_records=3, linger_ms=50)
    assert await fetch(kafka) == ("a", "r0", "r1")
    assert await fetch(kafka) == ("r2", "r3", "r4")


async def test_an_idle_fetch_is_followed_by_the_next_without_a_pause() -> None:
    kafka = Arrivals([])
    fetch = batch_fetcher(max_records=50, linger_ms=100)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await fetch(kafka) == ()
    # It waited for records (the fetch's own wait), not for a linger on top of it.
    assert IDLE_FETCH_MS / 1000 <= loop.time() - began < IDLE_FETCH_MS / 1000 + 0.1
    assert kafka.calls == [(IDLE_FETCH_MS, 50)]


async def test_a_fetch_that_comes_back_empty_at_once_pauses_briefly() -> None:
    class Rebalancing:
        async def getmany(self, **_: Any) -> dict[str, list[str]]:
            return {}

    fetch = batch_fetcher(max_records=50)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await fetch(Rebalancing()) == ()
    assert loop.time() - began >= 0.04
