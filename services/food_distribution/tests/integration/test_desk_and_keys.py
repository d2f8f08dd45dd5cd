"""The desk opens furigana with the residents' ``kana`` keys, asked of intake with no database
transaction open: a search, a household's status and a disclosure read their rows in a short
transaction, fetch the keys (a search's in one request) and open the furigana with none, and
a desk view is audited in a transaction of its own before it is shown. A slow intake holds no
pooled connection; an intake that is down, or an erased resident, leaves the furigana out and
the household still found by its number (a real HTTP server plays intake's key endpoint)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest
from food_kit import KEYS, Food, token, uid

from tsunagu.food_distribution.config import FoodConfig
from tsunagu.shared import testing
from tsunagu.shared.auth import COOKIE_NAME
from tsunagu.shared.crypto import resident_of
from tsunagu.shared.internal import IntakeKeys, caller_headers
from tsunagu.shared.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def intake() -> AsyncIterator[testing.IntakeKeyEndpoint]:
    with testing.intake_keys(KEYS) as endpoint:
        yield endpoint


@pytest.fixture
async def food(test_settings, food_schema, intake) -> AsyncIterator[Food]:
    """The food app asking ``intake`` for residents' keys, as in production."""
    settings = test_settings("food_distribution", internal_urls={"intake": intake.url})
    keys = IntakeKeys(settings)
    built = Food.build(settings, FoodConfig(), keys=keys)
    yield built
    await built.close()
    await keys.stop()


def desk_client(food: Food, username: str = "desk9") -> httpx.AsyncClient:
    client = food.client(roles=())
    client.cookies.set(COOKIE_NAME, token(food.settings, username, ("food_desk",)))
    return client


async def while_intake_is_slow(
    food: Food, intake: testing.IntakeKeyEndpoint, asking: Awaitable[httpx.Response]
) -> tuple[httpx.Response, int, list[str]]:
    """``asking`` while intake holds its answer: the pool's checked-out connections and the
    service's transactions left idle while the key request is in flight, and the answer."""
    intake.hold()
    asked = asyncio.ensure_future(asking)
    try:
        await intake.in_flight()
        await asyncio.sleep(0.5)  # idle in a transaction this long: held for the fetch
        checked_out = food.runtime.engine.pool.checkedout()
        idle = await testing.idle_in_transaction(food.runtime.engine, "food_distribution")
    finally:
        intake.release()
    return await asyncio.wait_for(asked, timeout=10), checked_out, idle


async def households(food: Food) -> tuple[str, dict[str, Any], dict[str, Any]]:
    ev = uid("ev")
    hanako = await food.case(event_id=ev, case_number=uid("K"), name_kana="ヤマダ ハナコ")
    taro = await food.case(event_id=ev, case_number=uid("K"), name_kana="ヤマダ タロウ")
    return ev, hanako, taro


async def audited(food: Food, actor: str, action: str) -> list[list[str]]:
    rows = await food.rows(
        "SELECT detail FROM food_distribution.audit_log"
        " WHERE actor = :actor AND action = :action ORDER BY audit_id",
        actor=actor,
        action=action,
    )
    return [sorted(r.detail["case_ids"]) for r in rows]


async def test_the_search_holds_no_transaction_while_intake_answers(food: Food, intake) -> None:
    ev, hanako, taro = await households(food)
    client = food.client("desk8", roles=("food_desk",))

    found, checked_out, idle = await while_intake_is_slow(
        food, intake, client.get("/api/v1/cases", params={"event_id": ev, "q": "やまだ"})
    )

    assert idle == [] and checked_out == 0, (idle, checked_out)
    assert found.status_code == 200, found.text
    assert sorted(h["name_kana"] for h in found.json()) == ["ヤマダ タロウ", "ヤマダ ハナコ"]
    assert await audited(food, "desk8", "food.search") == [
        sorted([hanako["case_id"], taro["case_id"]])
    ]


async def test_the_desk_page_holds_no_transaction_while_intake_answers(food: Food, intake) -> None:
    ev, hanako, taro = await households(food)
    desk = desk_client(food)
    query = {"event_id": ev, "q": "やまだ", "case_id": hanako["case_id"]}

    page, checked_out, idle = await while_intake_is_slow(
        food, intake, desk.get("/desk", params=query)
    )

    assert idle == [] and checked_out == 0, (idle, checked_out)
    assert page.status_code == 200, page.text
    assert "ヤマダ ハナコ" in page.text and "ヤマダ タロウ" in page.text
    assert await audited(food, "desk9", "food.search") == [
        sorted([hanako["case_id"], taro["case_id"]])
    ]
    assert await audited(food, "desk9", "food.household_view") == [[hanako["case_id"]]]


async def test_a_disclosure_holds_no_transaction_while_intake_answers(food: Food, intake) -> None:
    _, hanako, _ = await households(food)
    resident_id = resident_of(hanako["kana_sealed"])
    intake_caller = caller_headers(Settings(service="intake", env="test"))
    client = food.client(roles=())

    disclosed, checked_out, idle = await while_intake_is_slow(
        food,
        intake,
        client.get(
            "/internal/v1/disclosure",
            params={"resident_id": resident_id, "case_id": [hanako["case_id"]]},
            headers=intake_caller,
        ),
    )

    assert idle == [] and checked_out == 0, (idle, checked_out)
    assert disclosed.status_code == 200, disclosed.text
    [row] = disclosed.json()["case_index"]
    assert row["name_kana"] == "ヤマダ ハナコ" and "kana_sealed" not in row


async def test_intake_down_or_a_resident_erased_leaves_the_furigana_out(food: Food, intake) -> None:
    ev, hanako, taro = await households(food)
    KEYS.destroy(resident_of(taro["kana_sealed"]))  # intake no longer has their key
    desk = desk_client(food, "desk10")

    page = await desk.get("/desk", params={"event_id": ev, "q": "やまだ"})
    assert "ヤマダ ハナコ" in page.text and "ヤマダ タロウ" not in page.text

    intake.up = False
    by_number = await desk.get("/desk", params={"event_id": ev, "q": taro["case_number"]})
    assert by_number.status_code == 200
    assert taro["case_number"] in by_number.text and "ヤマダ" not in by_number.text
    assert await audited(food, "desk10", "food.search") == [
        [hanako["case_id"]],
        [taro["case_id"]],
    ]


async def test_a_search_whose_audit_fails_is_not_shown(food: Food, intake) -> None:
    ev, _, _ = await households(food)
    refuse = "ALTER TABLE food_distribution.audit_log ADD CONSTRAINT refuse_unaudited"
    async with food.runtime.engine.begin() as conn:
        await conn.exec_driver_sql(refuse + " CHECK (actor <> 'unaudited') NOT VALID")
    try:
        client = food.client("unaudited", roles=("food_desk",))
        found = await client.get("/api/v1/cases", params={"event_id": ev, "q": "やまだ"})
        page = await desk_client(food, "unaudited").get(
            "/desk", params={"event_id": ev, "q": "やまだ"}
        )
    finally:
        async with food.runtime.engine.begin() as conn:
            await conn.exec_driver_sql(
                "ALTER TABLE food_distribution.audit_log DROP CONSTRAINT refuse_unaudited"
            )
    assert found.status_code == 500 and "ヤマダ" not in found.text
    assert page.status_code == 500 and "ヤマダ" not in page.text
