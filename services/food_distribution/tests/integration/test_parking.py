"""Routing's decision on a case food has not heard of yet (intake's case_created is on another
topic, or was dead-lettered during a fault and replayed later) is parked, and applied when the
case arrives."""

from __future__ import annotations

import pytest
from food_kit import Food, uid

pytestmark = pytest.mark.integration
SQL = "SELECT count(*) FROM food_distribution.{} WHERE case_id = :c"


async def test_a_decision_before_its_case_is_parked_then_grants_when_the_case_arrives(
    food: Food,
) -> None:
    case_id = uid("case")
    await food.decide(case_id, True)
    assert await food.scalar(SQL.format("parked_event"), c=case_id) == 1
    assert await food.scalar(SQL.format("eligibility"), c=case_id) == 0

    # Food does not read the case's concerns: routing's parked decision grants the parcel.
    await food.case(case_id=case_id, concerns=["isolation"], routed=False)
    assert await food.scalar(SQL.format("eligibility"), c=case_id) == 1
    assert await food.scalar(SQL.format("parked_event"), c=case_id) == 0


async def test_a_parked_decision_of_not_eligible_grants_nothing(food: Food) -> None:
    case_id = uid("case")
    await food.decide(case_id, False)
    await food.case(case_id=case_id, concerns=["income_shortfall"], routed=False)
    assert await food.scalar(SQL.format("eligibility"), c=case_id) == 0
    assert await food.scalar(SQL.format("parked_event"), c=case_id) == 0
