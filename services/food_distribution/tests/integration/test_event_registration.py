"""An event and its zero stock rows are registered in one statement, and still exactly once
when two transactions register the same new event at the same moment."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from food_kit import Food, uid
from sqlalchemy import event

from tsunagu.food_distribution.service_layer import stock
from tsunagu.food_distribution.service_layer.stock import ensure_event
from tsunagu.shared.contracts.codes import ParcelType

pytestmark = pytest.mark.integration

DAY = date(2026, 12, 6)


async def _stock(food: Food, event_id: str) -> list[tuple[str, str, int]]:
    rows = await food.rows(
        "SELECT parcel_type, venue_id, quantity FROM food_distribution.stock"
        " WHERE event_id = :e ORDER BY parcel_type",
        e=event_id,
    )
    return [tuple(r) for r in rows]


def _zero_stock(venue: str) -> list[tuple[str, str, int]]:
    return sorted((p.value, venue, 0) for p in ParcelType)


async def test_an_event_is_registered_with_its_stock_and_named_in_one_statement_each(
    food: Food,
) -> None:
    ev = uid("ev")
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    engine = food.runtime.engine
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with food.runtime.sessions() as session, session.begin():
            assert await ensure_event(session, ev, "venue-aeon", DAY) == "venue-aeon"
            first = len(statements)
            named = await ensure_event(session, ev, "venue-aeon", DAY, "イオンモール")
            assert named == "venue-aeon"
            # Another venue for a known event: the event keeps its venue and its name.
            other = await ensure_event(session, ev, "venue-city-hall", DAY, "市役所")
            assert other == "venue-aeon"
            assert await ensure_event(session, ev, "venue-aeon", DAY) == "venue-aeon"
            last = len(statements)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert (first, last) == (1, 4), statements  # one statement a call (BEGIN is the driver's)
    row = (
        await food.rows(
            "SELECT venue_id, venue_name, held_on FROM food_distribution.event WHERE event_id = :e",
            e=ev,
        )
    )[0]
    assert tuple(row) == ("venue-aeon", "イオンモール", DAY)
    assert await _stock(food, ev) == _zero_stock("venue-aeon")


@pytest.mark.parametrize("venue_name", [None, "イオンモール"])
async def test_two_transactions_registering_a_new_event_at_once_both_get_its_venue(
    food: Food, venue_name: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second waits on the first's new row; its statement's snapshot does not show that
    row once committed, so with ``DO NOTHING`` it finds no venue and takes the steps one by
    one. Either way both get the venue, and the stock rows are there once."""
    ev = uid("ev")
    step_by_step = stock._ensure_event_step_by_step
    fell_back: list[str] = []

    async def watched(session, event_id, *args):  # type: ignore[no-untyped-def]
        fell_back.append(event_id)
        return await step_by_step(session, event_id, *args)

    monkeypatch.setattr(stock, "_ensure_event_step_by_step", watched)
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> str:
        async with food.runtime.sessions() as session, session.begin():
            venue = await ensure_event(session, ev, "venue-aeon", DAY, venue_name)
            first_in.set()
            await release.wait()
            return venue

    async def second() -> str:
        await first_in.wait()
        async with food.runtime.sessions() as session, session.begin():
            return await ensure_event(session, ev, "venue-aeon", DAY, venue_name)

    one = asyncio.create_task(first())
    two = asyncio.create_task(second())
    await first_in.wait()
    await asyncio.sleep(0.3)  # the second is now waiting on the first's row
    assert not two.done()
    release.set()
    assert await asyncio.wait_for(asyncio.gather(one, two), 10) == ["venue-aeon", "venue-aeon"]
    assert await _stock(food, ev) == _zero_stock("venue-aeon")
    # DO UPDATE returns the row it waited for; DO NOTHING returns none, and the steps follow.
    assert fell_back == ([ev] if venue_name is None else [])
