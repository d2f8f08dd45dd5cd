"""An event of routing's food topic about a case food has not heard of yet is parked, and
applied when the case arrives. Routing's topic is ordered per case, but the case's own
``food_case_routed`` may have been dead-lettered during a fault and be replayed later."""

from __future__ import annotations

import pytest
from food_kit import Food, case_rerouted, case_routed, consent_withdrawn, uid

from tsunagu.shared.contracts.envelope import Envelope

pytestmark = pytest.mark.integration
SQL = "SELECT count(*) FROM food_distribution.{} WHERE case_id = :c"


async def test_a_later_eligibility_before_its_case_is_parked_then_grants(food: Food) -> None:
    case_id = uid("case")
    await food.decide(case_id, True)
    assert await food.scalar(SQL.format("parked_event"), c=case_id) == 1
    assert await food.scalar(SQL.format("eligibility"), c=case_id) == 0

    # The case arrives (routing found it not eligible at first): the parked yes grants.
    await food.case(case_id=case_id, eligible=False)
    assert await food.scalar(SQL.format("eligibility"), c=case_id) == 1
    assert await food.scalar(SQL.format("parked_event"), c=case_id) == 0


async def test_a_withdrawal_before_its_case_is_parked_and_wins_over_the_older_decision(
    food: Food,
) -> None:
    """Routing decided (eligible), then the resident withdrew; the decision was dead-lettered
    and comes last. The withdrawal is parked, and the case arrives already withdrawn: no
    furigana, no eligibility, nothing published."""
    routed = case_routed(food.settings, eligible=True)
    case_id = routed.data["case_id"]
    withdrawn = consent_withdrawn(case_id)
    assert withdrawn.occurred_at > routed.occurred_at
    await food.apply(withdrawn)
    assert await food.scalar(SQL.format("parked_event"), c=case_id) == 1

    await food.apply(routed)
    assert await food.scalar(SQL.format("parked_event"), c=case_id) == 0
    assert await food.scalar(SQL.format("eligibility"), c=case_id) == 0
    assert await food.scalar(SQL.format("case_index") + " AND kana_sealed IS NOT NULL", c=case_id) == 0  # fmt: skip
    assert await food.scalar(
        "SELECT count(*) FROM food_distribution.outbox WHERE aggregateid = :c", c=case_id
    ) == 0  # fmt: skip
    assert (await food.client().get(f"/api/v1/eligibility/{case_id}")).json()["eligible"] is False


async def test_a_parked_reroute_newer_than_the_withdrawal_still_grants(food: Food) -> None:
    routed = case_routed(food.settings, eligible=False)
    case_id = routed.data["case_id"]
    withdrawn = consent_withdrawn(case_id)
    later: Envelope = case_rerouted(case_id, True)  # consent given again, then a correction
    for envelope in (later, withdrawn):  # parked in the wrong order: applied oldest first
        await food.apply(envelope)
    assert await food.scalar(SQL.format("parked_event"), c=case_id) == 2
    await food.apply(routed)
    assert await food.scalar(SQL.format("eligibility"), c=case_id) == 1
