"""Concurrent desks on a real PostgreSQL: row locks and constraints, not luck, keep the rules.

Every request below is its own HTTP request through the real app, hence its own session and
transaction; ``asyncio.gather`` sends them at the same moment.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from food_kit import Food, uid

pytestmark = pytest.mark.integration


def post_handout(client, case_id: str, parcel_type: str = "standard", key: str | None = None):
    return client.post(
        "/api/v1/handouts",
        json={"case_id": case_id, "parcel_type": parcel_type},
        headers={"Idempotency-Key": key} if key else {},
    )


async def stock_row(food: Food, event_id: str, parcel_type: str = "standard") -> int:
    return await food.scalar(
        "SELECT quantity FROM food_distribution.stock WHERE event_id = :e AND parcel_type = :p",
        e=event_id,
        p=parcel_type,
    )


async def assert_ledger_matches(food: Food, event_id: str) -> None:
    """The stock row equals the ledger's sum, and no ledger line ever went below zero."""
    rows = await food.rows(
        "SELECT parcel_type, sum(delta) AS total, min(balance_after) AS lowest"
        " FROM food_distribution.stock_movement WHERE event_id = :e GROUP BY parcel_type",
        e=event_id,
    )
    for row in rows:
        assert row.lowest >= 0
        assert row.total == await stock_row(food, event_id, row.parcel_type)


async def test_two_desks_one_household_same_moment_one_handout(food: Food) -> None:
    for _ in range(5):  # a few rounds: each must come out exactly one
        ev = uid("ev")
        await food.stock(ev, standard=5, no_pork=5)
        case = await food.case(event_id=ev)
        desk_a, desk_b = food.client("tanaka"), food.client("sato")
        a, b = await asyncio.gather(
            post_handout(desk_a, case["case_id"], "standard"),
            post_handout(desk_b, case["case_id"], "no_pork"),
        )
        assert sorted([a.status_code, b.status_code]) == [201, 409]
        refused = a if a.status_code == 409 else b
        served = b if refused is a else a
        assert refused.json()["code"] == "already_served"
        assert refused.json()["handed_out_by"] == served.json()["handed_out_by"]
        handouts = await food.scalar(
            "SELECT count(*) FROM food_distribution.handout WHERE household_id = :h",
            h=case["household_id"],
        )
        assert handouts == 1
        left = await stock_row(food, ev, "standard") + await stock_row(food, ev, "no_pork")
        assert left == 9
        await assert_ledger_matches(food, ev)


async def test_two_members_of_one_household_at_two_desks_one_handout(food: Food) -> None:
    ev, hh = uid("ev"), uid("hh")
    await food.stock(ev, standard=5)
    wife = await food.case(event_id=ev, household_id=hh)
    husband = await food.case(event_id=ev, household_id=hh)
    a, b = await asyncio.gather(
        post_handout(food.client("tanaka"), wife["case_id"]),
        post_handout(food.client("sato"), husband["case_id"]),
    )
    assert sorted([a.status_code, b.status_code]) == [201, 409]
    assert await stock_row(food, ev) == 4


async def test_fifty_desks_ten_parcels(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=10)
    households = [await food.case(event_id=ev) for _ in range(50)]
    desks = [food.client(f"desk{i % 5}") for i in range(5)]

    responses = await asyncio.gather(
        *(post_handout(desks[i % 5], case["case_id"]) for i, case in enumerate(households))
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 10, 409: 40}
    refusals = [r.json() for r in responses if r.status_code == 409]
    assert {d["code"] for d in refusals} == {"out_of_stock"}
    assert all(d["remaining"]["standard"] == 0 for d in refusals)
    assert all("標準は在庫切れです" in d["message"] for d in refusals)
    served = {r.json()["household_id"] for r in responses if r.status_code == 201}
    assert len(served) == 10
    assert sorted(r.json()["remaining"] for r in responses if r.status_code == 201) == list(
        range(10)
    )

    assert await stock_row(food, ev) == 0
    assert await food.scalar(
        "SELECT count(*) FROM food_distribution.handout WHERE event_id = :e", e=ev
    ) == 10  # fmt: skip
    await assert_ledger_matches(food, ev)


async def test_same_idempotency_key_sent_at_once_is_one_handout(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=5)
    case = await food.case(event_id=ev)
    desk = food.client("tanaka")
    key = uid("key")
    responses = await asyncio.gather(
        *(post_handout(desk, case["case_id"], key=key) for _ in range(6))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["handout_id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 5
    assert await stock_row(food, ev) == 4


async def test_handouts_transfers_and_adjustments_racing_never_go_negative(food: Food) -> None:
    ev, other = uid("ev"), uid("ev")
    await food.stock(ev, standard=12)
    await food.stock(other, venue_id="venue-west", standard=1)
    households = [await food.case(event_id=ev) for _ in range(10)]
    lead = food.client("lead")
    transfer = {"from_event_id": ev, "to_event_id": other, "parcel_type": "standard", "quantity": 4}
    adjust = {"event_id": ev, "parcel_type": "standard", "delta": -4, "reason": "破損"}

    responses = await asyncio.gather(
        *(post_handout(food.client(f"d{i}"), c["case_id"]) for i, c in enumerate(households)),
        lead.post("/api/v1/stock/transfers", json=transfer),
        lead.post("/api/v1/stock/adjustments", json=adjust),
        lead.post("/api/v1/stock/transfers", json=transfer),
    )
    assert {r.status_code for r in responses} <= {201, 409}
    taken = sum((1 if "handout_id" in r.json() else 4) for r in responses if r.status_code == 201)
    assert 12 - taken == await stock_row(food, ev) >= 0
    assert taken > 12 - 4  # what stopped the rest was the stock running out
    await assert_ledger_matches(food, ev)
    await assert_ledger_matches(food, other)


async def test_the_schema_refuses_a_second_parcel_even_without_the_lock(food: Food) -> None:
    """The unique (household, event, seq) backstop: a racing writer that skipped the checks."""
    from sqlalchemy.exc import IntegrityError

    ev = uid("ev")
    await food.stock(ev, standard=2)
    case = await food.case(event_id=ev)
    assert (await post_handout(food.client(), case["case_id"])).status_code == 201
    with pytest.raises(IntegrityError, match="uq_handout_household_id_event_id_seq"):
        async with food.runtime.engine.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO food_distribution.handout (handout_id, case_id, household_id,"
                " event_id, seq, parcel_type, handed_out_by, handed_out_at)"
                f" VALUES ('{uid('h')}', '{case['case_id']}', '{case['household_id']}',"
                f" '{ev}', 1, 'standard', 'rogue', now())"
            )
    with pytest.raises(IntegrityError, match="ck_stock_never_negative"):
        async with food.runtime.engine.begin() as conn:
            await conn.exec_driver_sql(
                "UPDATE food_distribution.stock SET quantity = quantity - 5"
                f" WHERE event_id = '{ev}' AND parcel_type = 'standard'"
            )
