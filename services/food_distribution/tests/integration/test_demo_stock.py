"""The demo stock `make up` loads: every parcel type at each of today's events, once."""

import pytest
from food_kit import Food, uid

from tsunagu.food_distribution.demo import DEMO_SOURCE, DEMO_STOCK, DemoEvent, seed
from tsunagu.shared.contracts.codes import ParcelType


async def stock_of(food: Food, event_id: str) -> dict[str, int]:
    r = await food.client().get("/api/v1/stock", params={"event_id": event_id})
    assert r.status_code == 200, r.text
    return {i["parcel_type"]: i["remaining"] for i in r.json()["items"]}


async def test_demo_stock_of_every_type_at_each_event_and_only_once(food: Food) -> None:
    events = [
        DemoEvent.parse(f"{uid('ev')}=aeon-mall=イオンモール"),
        DemoEvent.parse(f"{uid('ev')}=higashikawaguchi"),
    ]
    assert await seed(food.settings, events) == {"stock_receipts": 2 * len(ParcelType)}

    expected = {str(p): n for p, n in DEMO_STOCK.items()}
    assert set(expected) == {str(p) for p in ParcelType}  # every type the desk hands out
    for event in events:
        assert await stock_of(food, event.event_id) == expected
        assert all(n > food.config.threshold(ParcelType(p)) for p, n in expected.items())
    names = await food.rows(
        "SELECT event_id, venue_id, venue_name FROM food_distribution.event WHERE event_id = ANY(:ids)",
        ids=[e.event_id for e in events],
    )
    assert {tuple(r) for r in names} == {
        (events[0].event_id, "aeon-mall", "イオンモール"),
        (events[1].event_id, "higashikawaguchi", None),
    }
    ledger = await food.scalar(
        "SELECT count(*) FROM food_distribution.stock_movement"
        " WHERE event_id = :e AND kind = 'receipt' AND source = :s AND staff = 'demo'",
        e=events[0].event_id,
        s=DEMO_SOURCE,
    )
    assert ledger == len(ParcelType)  # ordinary ledger lines, one per type

    # A second `make up` (or a stock already handed out from) is left as it is.
    c = food.client()
    r = await c.post(
        "/api/v1/stock/adjustments",
        json={
            "event_id": events[0].event_id,
            "parcel_type": "infant",
            "delta": -3,
            "reason": "破損",
        },
    )
    assert r.status_code == 201, r.text
    assert await seed(food.settings, events) == {"stock_receipts": 0}
    assert (await stock_of(food, events[0].event_id))["infant"] == DEMO_STOCK[ParcelType.INFANT] - 3


def test_event_arguments_are_checked() -> None:
    assert DemoEvent.parse("e1=v1=クリニック コミュニティスペース") == DemoEvent(
        "e1", "v1", "クリニック コミュニティスペース"
    )
    for bad in ("e1", "=v1", "e1="):
        with pytest.raises(ValueError, match="EVENT_ID=VENUE_ID"):
            DemoEvent.parse(bad)
