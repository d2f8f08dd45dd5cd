"""The report facts under contention, on real Kafka and PostgreSQL: no deadlock, facts right.

Cases go in through the API; then routing's and food's events about the same cases are put on
their topics in other orders than the cases (routing's backwards, food's shuffled), so that a
consumer group starting behind all of them fetches full batches of the three topics about the
same cases at once. Two intake processes' report consumers (one group) apply that backlog
while the app's own report consumer (another group) writes the same rows: every transaction
takes its locks in one order, so no report consumer meets a deadlock (PostgreSQL aborts one of
the transactions, and the consumer counts a transient fault and tries again), and every fact is
what the events say, whatever order the topics were read in. The three consumers this replaced
met several deadlocks in every run of this test.

PostgreSQL's own count (``pg_stat_database.deadlocks``) is not asserted on here: in a test
session another intake (served by uvicorn, a consumer group of its own) applies the same events
to the same read-model rows, which two groups can order differently (in production one group
splits the partitions by case). The benchmark, with one intake, prints that count for each run.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from intake_helpers import App, eventually, token
from sqlalchemy import select, text
from test_intake_reports import T0, Desk, new_venue_with_events

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.entrypoints.consumers import register_reports
from tsunagu.shared import testing
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import (
    FOOD,
    INTAKE_CASE,
    REPORTS_GROUP_SUFFIX,
    ROUTING_CASE,
    partitions_of,
)
from tsunagu.shared.messaging import CONSUMED, TRANSIENT
from tsunagu.shared.runtime import ServiceRuntime

pytestmark = pytest.mark.integration

CASES = 60
ACCEPTED_AT = T0 + timedelta(hours=2)


async def start_at_the_end(bootstrap: str, group: str) -> None:
    """Commit the group's offsets at the topics' ends, so it reads only what comes next."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in (INTAKE_CASE.name, ROUTING_CASE.name, FOOD.name)
            for p in range(partitions_of(topic))
        ]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


def report_faults() -> dict[str, float]:
    """Transient faults met by this process's report consumers (a deadlock is one), by group."""
    return {
        sample.labels["consumer"]: sample.value
        for metric in TRANSIENT.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
        and sample.labels["consumer"].endswith(REPORTS_GROUP_SUFFIX)
    }


def envelope(event_type: str, producer: str, data: dict[str, Any], at: datetime) -> Envelope:
    return Envelope(event_type=event_type, producer=producer, data=data, occurred_at=at)


async def test_report_facts_of_the_same_cases_from_three_topics_never_deadlock(
    intake_app: App,
) -> None:
    app = intake_app
    desk = Desk(app, await token(app.client, "uketsuke"))
    _, (event_id,) = await new_venue_with_events(app, T0.date())
    group = f"locks-{uuid.uuid4().hex[:8]}{REPORTS_GROUP_SUFFIX}"
    bootstrap = app.settings.kafka_bootstrap
    await start_at_the_end(bootstrap, group)

    cases = [
        await desk.take_in(event_id, ["food_insecurity", "debt_arrears"]) for _ in range(CASES)
    ]
    referrals = {c["case_id"]: (str(uuid.uuid4()), str(uuid.uuid4())) for c in cases}
    handouts = {c["case_id"]: str(uuid.uuid4()) for c in cases}

    def routing_events(case: dict[str, str]) -> list[Envelope]:
        ids = referrals[case["case_id"]]
        base = {"case_id": case["case_id"], "case_number": case["case_number"]}
        routed = {
            **base,
            "event_id": event_id,
            "rule_version": "test",
            "lead": "life_independence",
            "compound": True,
            "urgent": False,
            "food_parcel_eligible": True,
            "referrals": [
                {"referral_id": ids[0], "programme": "life_independence", "role": "lead",
                 "status": "pending", "reasons": []},
                {"referral_id": ids[1], "programme": "welfare_fund", "role": "member",
                 "status": "pending", "reasons": []},
            ],
        }  # fmt: skip

        def status(referral: int, status: str, previous: str, **extra: Any) -> dict[str, Any]:
            programme = ("life_independence", "welfare_fund")[referral]
            return {**base, "referral_id": ids[referral], "programme": programme,
                    "status": status, "previous_status": previous, "by": programme, **extra}  # fmt: skip

        return [
            envelope("case_routed", "routing", routed, T0),
            envelope("referral_status_changed", "routing", status(0, "accepted", "pending"),
                     ACCEPTED_AT),
            # accepted again later: the first acceptance is the one that counts
            envelope("referral_status_changed", "routing", status(0, "accepted", "accepted"),
                     ACCEPTED_AT + timedelta(hours=1)),
            envelope("referral_status_changed", "routing",
                     status(0, "closed", "accepted", outcome="connected_to_service"),
                     ACCEPTED_AT + timedelta(hours=3)),
            envelope("referral_status_changed", "routing",
                     status(1, "declined", "pending", reason="out_of_scope"), ACCEPTED_AT),
        ]  # fmt: skip

    def handout(case: dict[str, str]) -> Envelope:
        data = {
            "handout_id": handouts[case["case_id"]],
            "case_id": case["case_id"],
            "household_id": case["household_id"],
            "event_id": event_id,
            "parcel_type": "standard",
            "handed_out_by": "food",
            "handed_out_at": datetime.now(UTC).isoformat(),
        }
        return envelope("parcel_handed_out", "food_distribution", data, T0)

    async with testing.producer(bootstrap) as producer:
        sent = [
            await producer.send(ROUTING_CASE.name, e.to_bytes(), key=case["case_id"].encode())
            for case in reversed(cases)
            for e in routing_events(case)
        ]
        for case in random.Random(21).sample(cases, len(cases)):
            sent.append(
                await producer.send(
                    FOOD.name, handout(case).to_bytes(), key=case["case_id"].encode()
                )
            )
        await asyncio.gather(*sent)

    async def relayed() -> bool:  # every case_created is on the bus
        async with app.runtime.sessions() as session:
            left = await session.scalar(
                text("SELECT count(*) FROM intake.outbox WHERE sent_at IS NULL")
            )
        return left == 0

    await eventually(relayed)
    before = report_faults()
    # Two intake processes' report consumers, in one group, start behind the whole backlog.
    replicas = [ServiceRuntime(app.settings, tables) for _ in range(2)]
    try:
        for replica in replicas:
            register_reports(replica, group)
            await replica.start(relay=False)
        await eventually(lambda: all_facts_in(app, cases), timeout=120)
    finally:
        for replica in replicas:
            await replica.stop()
            # closed connections report their statistics (deadlocks among them) as they end
            await replica.engine.dispose()

    # Neither the replicas' group nor the app's own report consumer met a deadlock.
    assert report_faults() == before
    assert any(name == group for name in _applied_by()), "the replicas applied nothing"
    await check_facts(app, cases, referrals, handouts, event_id)


def _applied_by() -> set[str]:
    return {
        sample.labels["consumer"]
        for metric in CONSUMED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["outcome"] == "applied"
    }


async def all_facts_in(app: App, cases: list[dict[str, str]]) -> bool:
    """Every case's fact row, referrals in their last status, and its handout are written by
    the replicas' group (its inbox holds every event of the backlog)."""
    case_ids = [c["case_id"] for c in cases]
    c, r, p = tables.report_case, tables.report_referral, tables.report_parcel
    async with app.runtime.sessions() as session:
        done = await session.scalar(
            select(text("count(*)"))
            .select_from(c.join(r, r.c.fact_id == c.c.fact_id))
            .where(c.c.case_id.in_(case_ids), c.c.event_id.is_not(None),
                   r.c.status.in_(["closed", "declined"]))
        )  # fmt: skip
        parcels = await session.scalar(
            select(text("count(*)"))
            .select_from(c.join(p, p.c.fact_id == c.c.fact_id))
            .where(c.c.case_id.in_(case_ids))
        )
    return done == 2 * len(cases) and parcels == len(cases)


async def check_facts(
    app: App,
    cases: list[dict[str, str]],
    referrals: dict[str, tuple[str, str]],
    handouts: dict[str, str],
    event_id: str,
) -> None:
    c, r, p = tables.report_case, tables.report_referral, tables.report_parcel
    case_ids = [case["case_id"] for case in cases]
    async with app.runtime.sessions() as session:
        facts = {
            row.case_id: row
            for row in await session.execute(select(c).where(c.c.case_id.in_(case_ids)))
        }
        fact_ids = [row.fact_id for row in facts.values()]
        referral_rows = {
            row.referral_id: row
            for row in await session.execute(select(r).where(r.c.fact_id.in_(fact_ids)))
        }
        parcel_rows = {
            row.handout_id: row
            for row in await session.execute(select(p).where(p.c.fact_id.in_(fact_ids)))
        }
    assert len(facts) == len(cases)
    assert len(referral_rows) == 2 * len(cases)
    assert len(parcel_rows) == len(cases)
    for case in cases:
        fact = facts[case["case_id"]]
        assert fact.event_id == event_id
        assert sorted(fact.concerns) == ["debt_arrears", "food_insecurity"]
        assert fact.compound is True and fact.urgent is False
        assert fact.resident_key is not None and fact.taken_at is not None
        lead, member = (referral_rows[i] for i in referrals[case["case_id"]])
        assert (lead.fact_id, lead.programme, lead.status) == (
            fact.fact_id, "life_independence", "closed")  # fmt: skip
        assert lead.routed_at == T0 and lead.accepted_at == ACCEPTED_AT
        assert lead.outcome == "connected_to_service" and lead.decline_reason is None
        assert (member.fact_id, member.status, member.decline_reason) == (
            fact.fact_id, "declined", "out_of_scope")  # fmt: skip
        assert member.routed_at == T0 and member.accepted_at is None
        parcel = parcel_rows[handouts[case["case_id"]]]
        assert parcel.fact_id == fact.fact_id and parcel.event_id == event_id
        # the household's one pseudonym, whichever topic made it first
        assert parcel.household_key == fact.household_key is not None
