"""Two replicas, poison messages, and escalation exactly once, on a real broker and database."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from routing_testkit import (
    CASE_TOPIC,
    FakeClock,
    Tap,
    assigned,
    case_created,
    decision_of,
    eventually,
    publish,
    referrals_of,
    settle,
)
from sqlalchemy import func, select

from tsunagu.routing.domain import CaseFacts, decide, load_rules
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import ROUTING_CASE, ROUTING_NOTIFY, programme_topic_name

pytestmark = pytest.mark.integration
RULES = load_rules()

VARIETY = [
    (["income_shortfall", "isolation"], {"age": 78, "lives_alone": True}),
    (["family_8050", "elderly_care"], {"age": 80}),
    (["debt_arrears"], {"basis": "none"}),
    (["loan_request", "disability"], {"disability_certificate": True}),
    (["dv_abuse", "childcare"], {}),
    (["hikikomori", "employment", "housing"], {"basis": "support_meeting"}),
]


async def test_two_replicas_route_each_case_once(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    first = await start_runtime()
    second = await start_runtime()
    handled = {id(first): 0, id(second): 0}
    for replica in (first, second):
        count_cases(replica, handled)
    await eventually(lambda: _both_hold_partitions(first, second))
    cases = [
        case_created(concerns, **facts)
        for i in range(60)
        for concerns, facts in [VARIETY[i % len(VARIETY)]]
    ]
    case_ids = [c.data["case_id"] for c in cases]
    await asyncio.gather(*(publish(producer, c) for c in cases))

    await tap.wait_for(case_ids, len(cases), event_type="case_routed")
    await settle(first, tap, group)
    assert all(handled.values()), f"both replicas routed cases: {handled}"
    assert sum(handled.values()) >= len(cases)

    routed = Counter(r.key for r in tap.find(case_ids, event_type="case_routed"))
    assert set(routed) == set(case_ids)
    assert set(routed.values()) == {1}, "each case routed exactly once"
    for case in cases:
        facts = case.data["facts"]
        expected = decide(
            CaseFacts.from_raw(
                concerns=facts["concerns"],
                age=facts["age"],
                disability_certificate=facts["disability_certificate"],
                lives_alone=facts["lives_alone"],
                sharing_basis=case.data["consent"]["basis"],
            ),
            RULES,
        )
        referrals = await referrals_of(first, case.data["case_id"])
        assert sorted(r["programme"] for r in referrals) == sorted(expected.programmes)
        created = tap.find(case.data["case_id"], event_type="referral_created")
        assert sorted(r.data["programme"] for r in created) == sorted(expected.shared)
    d = first.tables.decision
    async with first.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(d).where(d.c.case_id.in_(case_ids))
        )
    assert stored == len(cases)


def count_cases(runtime, handled: dict[int, int]) -> None:
    """Counts the case_created events this replica applies (test instrumentation only)."""
    handlers = runtime.consumer.handlers
    apply = handlers["case_created"]

    async def counted(session, envelope):
        await apply(session, envelope)
        handled[id(runtime)] += 1

    handlers["case_created"] = counted


async def _both_hold_partitions(*runtimes) -> bool:
    held = [{tp for tp in assigned(r) if tp.topic == CASE_TOPIC} for r in runtimes]
    return all(held) and not set.intersection(*held)


async def test_an_unknown_concern_is_dead_lettered_and_the_partition_keeps_flowing(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    runtime = await start_runtime()
    bad = case_created(["income_shortfall"])
    data = {
        **bad.data,
        "facts": {**bad.data["facts"], "concerns": ["income_shortfall", "gambling"]},
    }
    bad = Envelope(event_type="case_created", producer="intake", data=data)
    good = case_created(["housing"])
    bad_id, good_id = bad.data["case_id"], good.data["case_id"]
    await publish(producer, bad, partition=0)
    await publish(producer, good, partition=0)

    await tap.wait_for(good_id, 1, event_type="case_routed")

    async def ours() -> list | None:
        # Other consumers of the topic on a shared broker (intake's) dead-letter it too.
        found = tap.find(bad_id, topic=CASE_TOPIC + ".dlq")
        return [d for d in found if d.headers["dlq-consumer"] == group] or None

    (dead,) = await eventually(ours)
    assert dead.value == bad.to_bytes()
    assert "unknown concern code(s): 'gambling'" in dead.headers["dlq-error"]
    assert dead.headers["dlq-attempts"] == "1"
    assert dead.headers["dlq-origin-topic"] == CASE_TOPIC
    assert await decision_of(runtime, bad_id) is None
    assert not tap.find(bad_id, topic=ROUTING_CASE.name)


async def test_a_missed_deadline_escalates_once_across_replicas_and_restarts(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    clock = FakeClock()
    routing = await start_runtime(clock)
    # 12 urgent cases with two referrals each, and one that is not urgent.
    urgent = [
        case_created(["housing", "isolation"], eviction_within_7_days=True) for _ in range(12)
    ]
    calm = case_created(["debt_arrears"])
    urgent_ids = [c.data["case_id"] for c in urgent]
    case_ids = [*urgent_ids, calm.data["case_id"]]
    for case in [*urgent, calm]:
        await publish(producer, case)
    await tap.wait_for(case_ids, 25, event_type="referral_created")
    await routing.stop()  # the only replica goes away before any deadline passes

    # An hour and a bit later two replicas scan, a few referrals per transaction, at once.
    clock.advance(hours=1, minutes=1)
    replicas = [await start_runtime(clock, scan_batch_size=3) for _ in range(2)]
    await tap.wait_for(urgent_ids, 2 * 24, event_type="referral_escalated")
    await asyncio.sleep(1.5)  # several more scans by both replicas
    for case_id in urgent_ids:
        referrals = await referrals_of(replicas[0], case_id)
        assert [r["status"] for r in referrals] == ["escalated", "escalated"]
        assert all(r["escalated_at"] == clock.now for r in referrals)
    (calm_referral,) = await referrals_of(replicas[0], calm.data["case_id"])
    assert calm_referral["status"] == "pending"  # two business days are not over

    # Both restart; five days later the other referral is overdue too, and escalates once.
    for replica in replicas:
        await replica.stop()
    clock.advance(days=5)
    replicas = [await start_runtime(clock, scan_batch_size=3) for _ in range(2)]
    await tap.wait_for(calm.data["case_id"], 2, event_type="referral_escalated")
    await asyncio.sleep(1.5)
    await settle(replicas[0], tap, group)

    escalated = tap.find(case_ids, event_type="referral_escalated")
    per_topic = Counter((r.data["referral_id"], r.topic) for r in escalated)
    # On routing.case.v1, its twin for notify (ADR 25) and the programme's topic.
    assert len(per_topic) == 3 * 25
    assert set(per_topic.values()) == {1}, "each escalation published exactly once per topic"
    for record in escalated:
        assert record.topic in {
            ROUTING_CASE.name, ROUTING_NOTIFY.name, programme_topic_name(record.data["programme"])
        }  # fmt: skip
        assert record.data["urgent"] is (record.key != calm.data["case_id"])
    h = replicas[0].tables.referral_status_change
    async with replicas[0].sessions() as session:
        escalations = await session.scalar(
            select(func.count())
            .select_from(h)
            .where(h.c.case_id.in_(case_ids), h.c.action == "escalate")
        )
    assert escalations == 25
