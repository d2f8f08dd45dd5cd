"""case_created on a real broker and database: decisions, referrals and the events per topic."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from routing_testkit import (
    FakeClock,
    Tap,
    case_created,
    decision_of,
    publish,
    referrals_of,
    rewind,
    routed_cases,
    settle,
    snapshot,
)

from tsunagu.routing.domain import deadline_for, load_rules
from tsunagu.shared.contracts.topics import PROGRAMME_TOPICS, ROUTING_CASE, programme_topic_name

pytestmark = pytest.mark.integration
RULES = load_rules()


def duplicates_seen(group: str) -> float:
    """case_created events the inbox recognised as already applied, in this process."""
    labels = {"consumer": group, "topic": "intake.case.v1", "outcome": "duplicate"}
    return REGISTRY.get_sample_value("tsunagu_consumer_messages_total", labels) or 0.0


async def test_the_articles_example(start_runtime, producer, tap: Tap, group: str) -> None:
    """Age 78, lives alone, income shortfall and isolation: life_independence leads,
    csw_participation joins, food parcel eligible, not compound (docs/domain.md)."""
    clock = FakeClock()
    runtime = await start_runtime(clock)
    case = case_created(
        ["income_shortfall", "isolation"],
        most_pressing="income_shortfall",
        age=78,
        lives_alone=True,
    )
    case_id = case.data["case_id"]
    await publish(producer, case)

    (routed,) = await tap.wait_for(case_id, 1, event_type="case_routed")
    assert routed.topic == ROUTING_CASE.name
    assert routed.envelope.causation_id == case.event_id
    data = routed.data
    assert data["lead"] == "life_independence"
    assert data["compound"] is False
    assert data["coordinator"] is None
    assert data["food_parcel_eligible"] is True
    assert data["urgent"] is False
    assert data["rule_version"] == "2026.1"
    assert data["awaiting_consent"] == []
    assert [(r["programme"], r["role"], r["status"]) for r in data["referrals"]] == [
        ("life_independence", "lead", "pending"),
        ("csw_participation", "member", "pending"),
    ]

    created = await tap.wait_for(case_id, 2, event_type="referral_created")
    by_topic = {r.topic: r.data for r in created}
    assert set(by_topic) == {
        programme_topic_name("life_independence"),
        programme_topic_name("csw_participation"),
    }
    lead = by_topic[programme_topic_name("life_independence")]
    assert lead["role"] == "lead"
    assert lead["concerns"] == ["income_shortfall", "isolation"]
    assert {"code": "lead_most_pressing", "params": {"concern": "income_shortfall"}} in lead[
        "reasons"
    ]
    assert lead["concerns_scope"] == "case"
    member = by_topic[programme_topic_name("csw_participation")]
    assert (member["concerns"], member["concerns_scope"]) == (["isolation"], "programme")
    assert routed.envelope.schema_version == 2  # reasons are objects
    assert all(r.key == case_id for r in created)

    # Stored: the decision with its rule version and reasons, one referral per programme.
    decision = await decision_of(runtime, case_id)
    assert decision is not None
    assert decision["rule_version"] == "2026.1"
    assert decision["decision"]["reasons"]["csw_participation"] == [
        {"code": "concern", "params": {"concern": "isolation"}}
    ]
    referrals = await referrals_of(runtime, case_id)
    expected_deadline = deadline_for(clock.now, False, RULES)
    assert [(r["programme"], r["status"]) for r in referrals] == [
        ("life_independence", "pending"),
        ("csw_participation", "pending"),
    ]
    assert all(r["deadline_at"] == expected_deadline for r in referrals)
    assert expected_deadline - clock.now >= timedelta(days=2)  # two business days

    await settle(runtime, tap, group)
    # case_routed, two referral_created, the food desk's food_case_routed and notify's
    # notify_case_routed, nothing else.
    assert sorted(r.envelope.event_type for r in tap.find(case_id)) == [
        "case_routed", "food_case_routed", "notify_case_routed", "referral_created",
        "referral_created",
    ]  # fmt: skip


async def test_an_8050_household_is_a_compound_case_led_by_the_coordinator(
    start_runtime, producer, tap: Tap
) -> None:
    runtime = await start_runtime()
    case = case_created(
        ["family_8050", "elderly_care", "income_shortfall"],
        most_pressing="income_shortfall",
        age=82,
    )
    case_id = case.data["case_id"]
    await publish(producer, case)

    (routed,) = await tap.wait_for(case_id, 1, event_type="case_routed")
    assert routed.data["compound"] is True
    assert routed.data["lead"] == "csw_outreach"
    assert routed.data["coordinator"] == "csw_outreach"
    roles = {r["programme"]: r["role"] for r in routed.data["referrals"]}
    assert roles == {
        "csw_outreach": "coordinator",
        "elderly_support": "member",
        "life_independence": "member",
    }
    created = await tap.wait_for(case_id, 3, event_type="referral_created")
    assert {r.topic for r in created} == {programme_topic_name(p) for p in roles}
    coordinator = next(r for r in created if r.data["programme"] == "csw_outreach")
    assert {"code": "compound_concerns", "params": {"concerns": ["family_8050"]}} in (
        coordinator.data["reasons"]
    )
    elderly = next(r for r in created if r.data["programme"] == "elderly_support")
    assert {
        "code": "age_and_concern",
        "params": {"age": 82, "threshold": 65, "concern": "elderly_care"},
    } in elderly.data["reasons"]
    assert len(await referrals_of(runtime, case_id)) == 3


async def test_without_consent_only_the_lead_receives_the_case(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    runtime = await start_runtime()
    case = case_created(
        ["debt_arrears", "isolation", "special_loan_repayment"],
        most_pressing="debt_arrears",
        basis="none",
    )
    case_id = case.data["case_id"]
    await publish(producer, case)

    (routed,) = await tap.wait_for(case_id, 1, event_type="case_routed")
    # Three programmes: compound, so the coordinator leads and alone receives the case.
    assert routed.data["lead"] == "csw_outreach"
    assert sorted(routed.data["awaiting_consent"]) == [
        "csw_participation",
        "life_independence",
        "welfare_fund",
    ]
    statuses = {r["programme"]: r["status"] for r in routed.data["referrals"]}
    assert statuses == {
        "csw_outreach": "pending",
        "life_independence": "suggested",
        "csw_participation": "suggested",
        "welfare_fund": "suggested",
    }
    await settle(runtime, tap, group)
    created = tap.find(case_id, event_type="referral_created")
    assert [r.topic for r in created] == [programme_topic_name("csw_outreach")]
    suggested = [r for r in await referrals_of(runtime, case_id) if r["status"] == "suggested"]
    assert len(suggested) == 3
    assert all(r["deadline_at"] is None and r["shared_at"] is None for r in suggested)


async def test_an_urgent_case_must_be_accepted_within_an_hour(
    start_runtime, producer, tap: Tap
) -> None:
    clock = FakeClock()
    runtime = await start_runtime(clock)
    case = case_created(["dv_abuse", "housing"], eviction_within_7_days=True)
    case_id = case.data["case_id"]
    await publish(producer, case)

    (routed,) = await tap.wait_for(case_id, 1, event_type="case_routed")
    assert routed.data["urgent"] is True
    assert routed.data["external"] == [
        {"agency": "dv_centre", "reasons": [{"code": "concern", "params": {"concern": "dv_abuse"}}]}
    ]
    (created,) = await tap.wait_for(case_id, 1, event_type="referral_created")
    assert created.data["urgent"] is True
    (referral,) = await referrals_of(runtime, case_id)
    assert referral["deadline_at"] == clock.now + timedelta(hours=1)
    decision = await decision_of(runtime, case_id)
    assert decision is not None and decision["urgent"] is True
    assert decision["decision"]["urgent_reasons"] == [
        {"code": "concern", "params": {"concern": "dv_abuse"}},
        {"code": "flag", "params": {"flag": "eviction_within_7_days"}},
    ]


async def test_replaying_intakes_events_changes_nothing(
    start_runtime, producer, tap: Tap, group: str, kafka_bootstrap: str
) -> None:
    runtime = await start_runtime()
    cases = [
        case_created(["income_shortfall", "isolation"], age=70),
        case_created(["hikikomori"], basis="none"),
        case_created(["loan_request", "disability"], disability_certificate=True),
    ]
    case_ids = [c.data["case_id"] for c in cases]
    for case in cases:
        await publish(producer, case)
    await tap.wait_for(case_ids, 3, event_type="case_routed")
    await settle(runtime, tap, group)
    events_before = len(tap.find(case_ids))
    referrals_before = [await referrals_of(runtime, c) for c in case_ids]

    # The same envelopes again (a redelivery, or the topic replayed from the beginning)...
    for case in cases:
        await publish(producer, case)
    # ...and the same cases under new event ids (intake re-sending them).
    for case in cases:
        again = case.model_copy(update={"event_id": f"again-{case.event_id}"})
        await publish(producer, again)
    await settle(runtime, tap, group)

    assert len(tap.find(case_ids)) == events_before
    assert [await referrals_of(runtime, c) for c in case_ids] == referrals_before

    # Then all of intake's topics again, from the beginning, to a restarted routing. (Other
    # test sessions may publish meanwhile: compare the cases routed before the replay.) Other
    # tests publish made-up intake streams out of causal order (an update before its case);
    # routing parks such an event until its case is routed (older builds dead-lettered it,
    # and a replay rightly applies it once its case is routed). Cases with a dead letter are
    # left out; every other case, this test's own among them, must come through the replay
    # unchanged.
    dead_lettered = {
        r.key for r in tap.find(await routed_cases(runtime)) if r.topic.endswith(".dlq")
    }
    routed = await routed_cases(runtime) - dead_lettered
    assert set(case_ids) <= routed
    before = await snapshot(runtime, routed)
    published = [r for r in tap.find(routed) if not r.topic.endswith(".dlq")]
    await runtime.stop()
    await rewind(kafka_bootstrap, group)
    duplicates = duplicates_seen(group)
    runtime = await start_runtime()
    await settle(runtime, tap, group)
    assert duplicates_seen(group) - duplicates >= len(routed)  # every case came round again
    assert await snapshot(runtime, routed) == before
    assert [r for r in tap.find(routed) if not r.topic.endswith(".dlq")] == published


async def test_every_programme_topic_receives_only_its_own_referrals(
    start_runtime, producer, tap: Tap
) -> None:
    await start_runtime()
    case = case_created(
        ["income_shortfall", "special_loan_repayment", "isolation", "dementia_money", "disability"],
        age=70,
    )
    case_id = case.data["case_id"]
    await publish(producer, case)
    created = await tap.wait_for(case_id, 7, event_type="referral_created")
    assert sorted(r.topic for r in created) == sorted(t.name for t in PROGRAMME_TOPICS.values())
    assert all(r.topic == programme_topic_name(r.data["programme"]) for r in created)


async def test_a_member_programmes_topic_carries_none_of_the_cases_other_concerns(
    start_runtime, producer, tap: Tap
) -> None:
    """Debts, DV and isolation are not disability_support's business: its topic (read by the
    team's own systems, kept beyond any withdrawal) never names them. Three programmes make
    the case compound: the coordinator, who follows the whole case, is told every concern."""
    await start_runtime(FakeClock())
    concerns = ["debt_arrears", "dv_abuse", "isolation", "disability"]
    case = case_created(concerns, most_pressing="debt_arrears")
    case_id = case.data["case_id"]
    await publish(producer, case)
    created = await tap.wait_for(case_id, 4, event_type="referral_created")
    by_topic = {r.topic: r for r in created}
    member = by_topic[programme_topic_name("disability_support")]
    assert (member.data["concerns"], member.data["concerns_scope"]) == (["disability"], "programme")
    on_the_wire = member.value.decode() + str(member.headers)  # the bytes on the topic
    for other in ("debt_arrears", "dv_abuse", "isolation"):
        assert other not in on_the_wire
    coordinator = by_topic[programme_topic_name("csw_outreach")].data
    assert (coordinator["role"], coordinator["concerns"]) == ("coordinator", concerns)
    assert coordinator["concerns_scope"] == "case"
    money = by_topic[programme_topic_name("life_independence")].data
    assert (money["role"], money["concerns"]) == ("member", ["debt_arrears"])
    assert by_topic[programme_topic_name("csw_participation")].data["concerns"] == ["isolation"]
