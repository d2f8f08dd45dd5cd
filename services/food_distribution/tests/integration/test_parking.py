"""A case_updated for a case food has not heard of is parked, and applied when the case arrives
(its case_created dead-lettered during a fault and replayed later)."""

from __future__ import annotations

import pytest
from food_kit import Food, uid

pytestmark = pytest.mark.integration


async def test_an_update_before_its_case_is_parked_then_grants_when_the_case_arrives(
    food: Food,
) -> None:
    case_id = uid("case")
    await food.update(case_id, ["income_shortfall"])
    sql = "SELECT count(*) FROM food_distribution.{} WHERE case_id = :c"
    assert await food.scalar(sql.format("parked_event"), c=case_id) == 1
    assert await food.scalar(sql.format("eligibility"), c=case_id) == 0

    # The replayed case_created says nothing about money; the parked update does.
    await food.case(case_id=case_id, concerns=["isolation"])
    assert await food.scalar(sql.format("eligibility"), c=case_id) == 1
    assert await food.scalar(sql.format("parked_event"), c=case_id) == 0


async def test_a_parked_update_without_a_food_concern_grants_nothing(food: Food) -> None:
    case_id = uid("case")
    await food.update(case_id, ["isolation"])
    await food.case(case_id=case_id, concerns=["isolation"])
    sql = "SELECT count(*) FROM food_distribution.{} WHERE case_id = :c"
    assert await food.scalar(sql.format("eligibility"), c=case_id) == 0
    assert await food.scalar(sql.format("parked_event"), c=case_id) == 0
