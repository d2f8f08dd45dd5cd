"""A corrected case routed again (case_updated), on a real broker and database."""

from __future__ import annotations

from datetime import datetime

import pytest
from routing_testkit import (
    FakeClock,
    Tap,
    case_created,
    case_updated,
    decision_of,
    publish,
    referral_response,
    referrals_of,
    settle,
)

from tsunagu.routing.domain import WITHDRAWN_NOT_NEEDED, deadline_for, load_rules
from tsunagu.shared.contracts.topics import ROUTING_CASE, programme_topic_name

pytestmark = pytest.mark.integration
RULES = load_rules()
CASE_TOPIC = ROUTING_CASE.name


async def test_new_needs_bring_new_referrals_and_the_teams_hear_of_them(
    start_runtime, producer, tap: Tap
) -> None:
    """income_shortfall, corrected to add disability and dementia_money: disability_support
    and adult_guardianship receive the case; three programmes make it compound, so the
    coordinator joins and leads, and life_independence stays on as a member."""
    clock = FakeClock()
    runtime = await start_runtime(clock)
    case = case_created(["income_shortfall"], most_pressing="income_shortfall")
    case_id = case.data["case_id"]
    await publish(producer, case)
    (first,) = await tap.wait_for(case_id, 1, event_type="referral_created")
    assert first.topic == programme_topic_name("life_independence")
    assert first.data["allowed_actions"] == ["accept", "decline"]

    clock.advance(minutes=10)
    await publish(
        producer,
        case_updated(
            case_id,
            ["income_shortfall", "disability", "dementia_money"],
            most_pressing="income_shortfall",
        ),
    )
    (rerouted,) = await tap.wait_for(case_id, 1, event_type="case_rerouted")
    assert rerouted.topic == CASE_TOPIC
    data = rerouted.data
    assert data["compound"] is True
    assert data["lead"] == "csw_outreach"
    referrals = {r["programme"]: r for r in data["referrals"]}
    assert {p: (r["role"], r["status"]) for p, r in referrals.items()} == {
        "csw_outreach": ("coordinator", "pending"),
        "life_independence": ("member", "pending"),
        "disability_support": ("member", "pending"),
        "adult_guardianship": ("member", "pending"),
    }
    assert data["withdrawn"] == []
    assert set(data["added"]) == {
        referrals[p]["referral_id"]
        for p in ("csw_outreach", "disability_support", "adult_guardianship")
    }
    assert all(r["allowed_actions"] == ["accept", "decline"] for r in data["referrals"])

    created = await tap.wait_for(case_id, 4, event_type="referral_created")
    assert {r.topic for r in created[1:]} == {
        programme_topic_name(p)
        for p in ("csw_outreach", "disability_support", "adult_guardianship")
    }
    # The coordinator follows the whole case; each member's topic names only its own concern.
    needs = {
        programme_topic_name("csw_outreach"): ["income_shortfall", "disability", "dementia_money"],
        programme_topic_name("disability_support"): ["disability"],
        programme_topic_name("adult_guardianship"): ["dementia_money"],
    }
    for record in created[1:]:
        assert record.data["concerns"] == needs[record.topic]
        assert record.data["deadline_at"] is not None
        assert record.envelope.causation_id == rerouted.envelope.causation_id

    stored = {r["programme"]: r for r in await referrals_of(runtime, case_id)}
    assert stored["disability_support"]["deadline_at"] == deadline_for(clock.now, False, RULES)
    assert stored["life_independence"]["role"] == "member"
    decision = await decision_of(runtime, case_id)
    assert decision is not None
    assert decision["facts"]["concerns"] == ["income_shortfall", "disability", "dementia_money"]
    assert decision["decision"]["lead"] == "csw_outreach"


async def test_needs_no_longer_there_withdraw_pending_referrals_and_keep_accepted_ones(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    runtime = await start_runtime(FakeClock())
    case = case_created(
        ["income_shortfall", "isolation", "elderly_care"], most_pressing="isolation", age=70
    )
    case_id = case.data["case_id"]
    await publish(producer, case)
    (routed,) = await tap.wait_for(case_id, 1, event_type="case_routed")
    by_programme = {r["programme"]: r for r in routed.data["referrals"]}
    assert set(by_programme) == {
        "csw_outreach",
        "life_independence",
        "csw_participation",
        "elderly_support",
    }
    accepted = {**by_programme["life_independence"], "case_id": case_id}
    await publish(producer, referral_response(accepted, "accept"))
    (changed,) = await tap.wait_for(
        case_id, 1, topic=CASE_TOPIC, event_type="referral_status_changed"
    )
    assert changed.data["allowed_actions"] == ["start"]

    # Only the money worry was real: isolation and elderly care are corrected away.
    await publish(producer, case_updated(case_id, ["income_shortfall"]))
    (rerouted,) = await tap.wait_for(case_id, 1, event_type="case_rerouted")
    now = {r["programme"]: r for r in rerouted.data["referrals"]}
    assert {p: (r["role"], r["status"]) for p, r in now.items()} == {
        "life_independence": ("lead", "accepted"),
        "csw_outreach": ("coordinator", "withdrawn"),
        "csw_participation": ("member", "withdrawn"),
        "elderly_support": ("member", "withdrawn"),
    }
    assert rerouted.data["added"] == []
    assert set(rerouted.data["withdrawn"]) == {
        now[p]["referral_id"] for p in ("csw_outreach", "csw_participation", "elderly_support")
    }
    assert now["life_independence"]["allowed_actions"] == ["start"]
    assert now["csw_participation"]["allowed_actions"] == []

    # Each team that had received the case hears that it no longer needs to act.
    withdrawn = [
        r
        for r in await tap.wait_for(case_id, 8, event_type="referral_status_changed")
        if r.data["status"] == "withdrawn"
    ]
    assert {r.topic for r in withdrawn if r.topic != CASE_TOPIC} == {
        programme_topic_name(p) for p in ("csw_outreach", "csw_participation", "elderly_support")
    }
    assert all(r.data["reason"] == WITHDRAWN_NOT_NEEDED for r in withdrawn)
    stored = {r["programme"]: r for r in await referrals_of(runtime, case_id)}
    assert stored["csw_participation"]["status"] == "withdrawn"
    assert stored["csw_participation"]["reason"] == WITHDRAWN_NOT_NEEDED
    assert stored["life_independence"]["status"] == "accepted"

    # A response to a withdrawn referral is refused, not applied.
    late = {**now["csw_participation"], "case_id": case_id}
    await publish(producer, referral_response(late, "accept"))
    await settle(runtime, tap, group)
    stored = {r["programme"]: r for r in await referrals_of(runtime, case_id)}
    assert stored["csw_participation"]["status"] == "withdrawn"


async def test_a_correction_undone_reinstates_the_withdrawn_referral(
    start_runtime, producer, tap: Tap
) -> None:
    clock = FakeClock()
    runtime = await start_runtime(clock)
    case = case_created(["income_shortfall", "isolation"], most_pressing="income_shortfall")
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 2, event_type="referral_created")
    await publish(producer, case_updated(case_id, ["income_shortfall"]))
    (first,) = await tap.wait_for(case_id, 1, event_type="case_rerouted")
    withdrawn_id = next(
        r["referral_id"] for r in first.data["referrals"] if r["programme"] == "csw_participation"
    )
    assert first.data["withdrawn"] == [withdrawn_id]

    # Staff had it right the first time: isolation is back, and so is the same referral.
    clock.advance(hours=1)
    await publish(producer, case_updated(case_id, ["income_shortfall", "isolation"]))
    rerouted = await tap.wait_for(case_id, 2, event_type="case_rerouted")
    second = rerouted[-1].data
    assert second["added"] == [withdrawn_id]
    assert second["withdrawn"] == []
    now = {r["programme"]: r for r in second["referrals"]}
    assert (now["csw_participation"]["status"], now["csw_participation"]["role"]) == (
        "pending",
        "member",
    )
    assert now["csw_participation"]["allowed_actions"] == ["accept", "decline"]
    created = await tap.wait_for(
        case_id, 2, topic=programme_topic_name("csw_participation"), event_type="referral_created"
    )
    assert created[-1].data["referral_id"] == withdrawn_id
    stored = {r["programme"]: r for r in await referrals_of(runtime, case_id)}
    assert stored["csw_participation"]["deadline_at"] == deadline_for(clock.now, False, RULES)
    assert stored["csw_participation"]["reason"] is None


async def test_a_correction_to_urgent_brings_the_waiting_referrals_deadlines_forward(
    start_runtime, producer, tap: Tap
) -> None:
    """No food today, learnt at a correction: the referrals still waiting to be accepted must
    be taken up within the urgent hours from now, not by the ordinary deadline; an accepted
    one has no deadline to move; and the scanner escalates by the new deadline."""
    clock = FakeClock()
    runtime = await start_runtime(clock)
    case = case_created(["income_shortfall", "isolation"], most_pressing="income_shortfall")
    case_id = case.data["case_id"]
    await publish(producer, case)
    (routed,) = await tap.wait_for(case_id, 1, event_type="case_routed")
    assert routed.data["urgent"] is False
    shared_at = clock.now
    by_programme = {r["programme"]: r for r in routed.data["referrals"]}
    await publish(
        producer,
        referral_response({**by_programme["csw_participation"], "case_id": case_id}, "accept"),
    )
    await tap.wait_for(case_id, 1, topic=CASE_TOPIC, event_type="referral_status_changed")

    clock.advance(minutes=30)
    await publish(
        producer,
        case_updated(
            case_id, ["income_shortfall", "isolation"], most_pressing="income_shortfall",
            no_food_today=True,
        ),
    )  # fmt: skip
    (rerouted,) = await tap.wait_for(case_id, 1, event_type="case_rerouted")
    urgent_deadline = deadline_for(clock.now, True, RULES)
    assert urgent_deadline < deadline_for(shared_at, False, RULES)
    assert rerouted.data["urgent"] is True
    shown = {r["programme"]: r for r in rerouted.data["referrals"]}
    assert shown["life_independence"]["status"] == "pending"
    assert datetime.fromisoformat(shown["life_independence"]["deadline_at"]) == urgent_deadline
    stored = {r["programme"]: r for r in await referrals_of(runtime, case_id)}
    assert stored["life_independence"]["deadline_at"] == urgent_deadline
    assert stored["csw_participation"]["status"] == "accepted"

    # Past the urgent hours (long before the ordinary deadline): escalated.
    clock.advance(hours=RULES.urgent_hours, minutes=1)
    (escalated,) = await tap.wait_for(case_id, 1, topic=CASE_TOPIC, event_type="referral_escalated")
    assert escalated.data["programme"] == "life_independence"
