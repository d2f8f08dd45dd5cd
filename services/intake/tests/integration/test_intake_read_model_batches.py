"""The read model from a backlog, on real Kafka and PostgreSQL: whole batches decided at once.

Routing's and food's events about many cases are put on their topics before a consumer group
reads them, so that its consumers fetch full batches: decisions, later statuses, escalations,
eligibility and handouts of many cases in one batch, each batch written with one statement per
table (``read_model``). Every row must be what the events applied one by one leave: the later
status wins, staff's unconfirmed response is cleared by routing's decision, an escalation
updates the referral it names and makes none that is not there, events about a case intake
does not hold are skipped. The app's own consumer group applies the events first, as they come
(rows inserted); a second group then applies the whole backlog over those rows (rows updated).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from intake_helpers import App, eventually, token
from sqlalchemy import func, select
from test_intake_report_locks import envelope, start_at_the_end
from test_intake_reports import T0, Desk, new_venue_with_events

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.entrypoints.consumers import register
from tsunagu.shared import testing
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import FOOD, REPORTS_GROUP_SUFFIX, ROUTING_CASE
from tsunagu.shared.messaging import CONSUMED, TRANSIENT
from tsunagu.shared.runtime import ServiceRuntime

pytestmark = pytest.mark.integration

CASES = 40
ESCALATED_AT = T0 + timedelta(hours=30)
NEW_DEADLINE = T0 + timedelta(hours=54)


def counted(metric: Any, group: str, outcome: str | None = None) -> float:
    return sum(
        sample.value
        for family in metric.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
        and sample.labels["consumer"] == group
        and (outcome is None or sample.labels.get("outcome") == outcome)
    )


async def test_a_backlog_of_many_cases_is_applied_as_one_by_one(intake_app: App) -> None:
    app = intake_app
    desk = Desk(app, await token(app.client, "uketsuke"))
    _, (event_id,) = await new_venue_with_events(app, T0.date())
    group = f"read-model-{uuid.uuid4().hex[:8]}"
    for name in (group, group + REPORTS_GROUP_SUFFIX):
        await start_at_the_end(app.settings.kafka_bootstrap, name)

    cases = [
        await desk.take_in(event_id, ["food_insecurity", "debt_arrears"]) for _ in range(CASES)
    ]
    referrals = {c["case_id"]: (str(uuid.uuid4()), str(uuid.uuid4())) for c in cases}
    unknown = str(uuid.uuid4())  # a case intake does not hold
    phantom = str(uuid.uuid4())  # a referral the read model does not have

    def routing_events(case_id: str, case_number: str) -> list[Envelope]:
        lead, member = referrals.get(case_id, (str(uuid.uuid4()), str(uuid.uuid4())))
        base = {"case_id": case_id, "case_number": case_number}
        routed = {
            **base, "event_id": event_id, "rule_version": "test", "lead": "life_independence",
            "compound": True, "urgent": False, "food_parcel_eligible": True,
            "referrals": [
                {"referral_id": lead, "programme": "life_independence", "role": "lead",
                 "status": "pending", "reasons": [], "allowed_actions": ["accept", "decline"]},
                {"referral_id": member, "programme": "welfare_fund", "role": "member",
                 "status": "pending", "reasons": [], "allowed_actions": ["accept", "decline"]},
            ],
        }  # fmt: skip

        def status(referral: str, new: str, previous: str, **extra: Any) -> dict[str, Any]:
            return {**base, "referral_id": referral, "programme": "life_independence",
                    "status": new, "previous_status": previous, "by": "staff", **extra}  # fmt: skip

        def escalated(referral: str) -> dict[str, Any]:
            return {**base, "referral_id": referral, "programme": "welfare_fund", "urgent": True,
                    "deadline_at": NEW_DEADLINE.isoformat(),
                    "escalated_at": ESCALATED_AT.isoformat(), "allowed_actions": ["accept"]}  # fmt: skip

        return [
            envelope("case_routed", "routing", routed, T0),
            envelope("referral_status_changed", "routing",
                     status(lead, "accepted", "pending", allowed_actions=["start", "close"]),
                     T0 + timedelta(hours=1)),
            envelope("referral_escalated", "routing", escalated(member), ESCALATED_AT),
            envelope("referral_escalated", "routing", escalated(phantom), ESCALATED_AT),
            envelope("referral_status_changed", "routing",
                     status(lead, "closed", "accepted", outcome="終わり",
                            outcome_code="connected_to_service", allowed_actions=[]),
                     T0 + timedelta(hours=3)),
        ]  # fmt: skip

    def food_events(case_id: str, household_id: str) -> list[Envelope]:
        base = {"case_id": case_id, "household_id": household_id, "event_id": event_id}
        granted = {**base, "basis": "manual", "reason": "窓口で確認"}
        handed = {**base, "handout_id": str(uuid.uuid4()), "parcel_type": "infant",
                  "handed_out_by": "food", "handed_out_at": (T0 + timedelta(hours=2)).isoformat()}  # fmt: skip
        return [
            envelope("eligibility_granted", "food_distribution", granted, T0),
            envelope("parcel_handed_out", "food_distribution", handed, T0 + timedelta(hours=2)),
        ]

    async with testing.producer(app.settings.kafka_bootstrap) as producer:
        sent = []
        for case in [*cases, {"case_id": unknown, "case_number": "X-1", "household_id": "h"}]:
            key = case["case_id"].encode()
            for e in routing_events(case["case_id"], case["case_number"]):
                sent.append(await producer.send(ROUTING_CASE.name, e.to_bytes(), key=key))
            for e in food_events(case["case_id"], case["household_id"]):
                sent.append(await producer.send(FOOD.name, e.to_bytes(), key=key))
        await asyncio.gather(*sent)
    f = tables.referral
    leads = [lead for lead, _ in referrals.values()]
    members = [member for _, member in referrals.values()]

    async def applied_by_the_app() -> bool:
        async with app.runtime.sessions() as session:
            closed = await session.scalar(
                select(func.count()).where(f.c.referral_id.in_(leads), f.c.status == "closed")
            )
            escalated = await session.scalar(
                select(func.count()).where(f.c.referral_id.in_(members), f.c.escalated)
            )
        return closed == escalated == CASES

    # The app's own consumer group reads the events as they come; then staff answer both
    # referrals of every case, and routing has not confirmed it yet.
    await eventually(applied_by_the_app, timeout=120)
    async with app.runtime.sessions() as session, session.begin():
        await session.execute(
            f.update()
            .where(f.c.referral_id.in_(leads + members))
            .values(submitted_action="accept", submitted_at=T0 + timedelta(hours=29))
        )

    faults_before = counted(TRANSIENT, group)
    replica = ServiceRuntime(app.settings, tables)
    try:
        register(replica, consumer=group)
        await replica.start(relay=False)
        # The group reads the whole backlog again, in full batches, over the rows there now:
        # every event (7 per case, and the unknown case's) applied or skipped.
        total = 7 * (CASES + 1)

        async def all_handled() -> bool:
            return counted(CONSUMED, group) >= total

        await eventually(all_handled, timeout=120)
    finally:
        await replica.stop()
        await replica.engine.dispose()
    assert counted(TRANSIENT, group) == faults_before  # no deadlock, no other fault
    assert counted(CONSUMED, group, "dead_lettered") == 0

    case_ids = [c["case_id"] for c in cases]
    g, fe = tables.case_routing, tables.food_eligibility
    async with app.runtime.sessions() as session:
        routed = {
            r.case_id: r
            for r in await session.execute(select(g).where(g.c.case_id.in_([*case_ids, unknown])))
        }
        rows = {
            r.referral_id: r
            for r in await session.execute(select(f).where(f.c.case_id.in_([*case_ids, unknown])))
        }
        food_rows = {
            r.case_id: r
            for r in await session.execute(select(fe).where(fe.c.case_id.in_([*case_ids, unknown])))
        }
        phantoms = list(
            await session.scalars(select(f.c.referral_id).where(f.c.referral_id == phantom))
        )
    # fmt: off
    # Routing's status changes cleared staff's response to the lead; the member's escalation
    # (no decision on what staff sent) left it awaiting confirmation.
    assert unknown not in routed and unknown not in food_rows and phantoms == []
    assert len(routed) == len(food_rows) == CASES and len(rows) == 2 * CASES
    for case in cases:
        decision = routed[case["case_id"]]
        assert (decision.routed_at, decision.lead, decision.compound) == (T0, "life_independence", True)
        assert decision.rerouted_at is None and decision.rerouted is None
        lead, member = (rows[i] for i in referrals[case["case_id"]])
        assert (lead.status, lead.role, lead.escalated) == ("closed", "lead", False)
        assert (lead.last_outcome, lead.last_outcome_code) == ("終わり", "connected_to_service")
        assert lead.allowed_actions == [] and lead.updated_at == T0 + timedelta(hours=3)
        assert lead.submitted_action is None
        assert (member.status, member.role, member.escalated) == ("pending", "member", True)
        assert member.deadline_at == NEW_DEADLINE and member.allowed_actions == ["accept"]
        assert member.submitted_action == "accept" and member.updated_at == ESCALATED_AT
        eligibility = food_rows[case["case_id"]]
        assert (eligibility.basis, eligibility.granted_at, eligibility.parcel_type) == ("manual", T0, "infant")
        assert eligibility.household_id == case["household_id"]
    # fmt: on
