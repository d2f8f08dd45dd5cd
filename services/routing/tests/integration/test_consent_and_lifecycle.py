"""Consent changes and programme responses, on a real broker and database."""

from __future__ import annotations

import asyncio

import pytest
from routing_testkit import (
    FakeClock,
    Tap,
    case_created,
    consent_changed,
    decision_of,
    new_case_id,
    publish,
    referral_response,
    referrals_of,
    settle,
)
from sqlalchemy import select

from tsunagu.routing.domain import deadline_for, load_rules
from tsunagu.shared.contracts.topics import ROUTING_CASE, programme_topic_name

pytestmark = pytest.mark.integration
RULES = load_rules()
CASE_TOPIC = ROUTING_CASE.name


async def test_consent_releases_held_back_referrals_and_its_withdrawal_is_told(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    clock = FakeClock()
    runtime = await start_runtime(clock)
    case = case_created(["income_shortfall", "isolation"], most_pressing="isolation", basis="none")
    case_id = case.data["case_id"]
    await publish(producer, case)
    (lead_created,) = await tap.wait_for(case_id, 1, event_type="referral_created")
    assert lead_created.topic == programme_topic_name("csw_participation")

    # Consent given: the suggested referral is released with a deadline from now.
    clock.advance(minutes=30)
    await publish(producer, consent_changed(case_id, "consent", previous="none"))
    created = await tap.wait_for(case_id, 2, event_type="referral_created")
    released = next(r for r in created if r.topic == programme_topic_name("life_independence"))
    assert released.data["role"] == "member"
    (changed,) = await tap.wait_for(case_id, 1, event_type="referral_status_changed")
    assert changed.topic == CASE_TOPIC
    assert (changed.data["previous_status"], changed.data["status"]) == ("suggested", "pending")
    assert changed.data["programme"] == "life_independence"
    referrals = {r["programme"]: r for r in await referrals_of(runtime, case_id)}
    assert referrals["life_independence"]["status"] == "pending"
    assert referrals["life_independence"]["deadline_at"] == deadline_for(clock.now, False, RULES)
    decision = await decision_of(runtime, case_id)
    assert decision is not None and decision["sharing_basis"] == "consent"

    # Consent withdrawn: every programme that received the case is told, once.
    await publish(producer, consent_changed(case_id, "none", previous="consent"))
    withdrawn = await tap.wait_for(case_id, 2, event_type="consent_withdrawn")
    assert {r.topic for r in withdrawn} == {
        programme_topic_name("csw_participation"),
        programme_topic_name("life_independence"),
    }
    await settle(runtime, tap, group)
    assert len(tap.find(case_id, event_type="consent_withdrawn")) == 2
    assert len(tap.find(case_id, event_type="referral_created")) == 2
    decision = await decision_of(runtime, case_id)
    assert decision is not None and decision["consent_withdrawn_at"] is not None


async def test_a_support_meeting_releases_referrals_too(start_runtime, producer, tap: Tap) -> None:
    await start_runtime()
    case = case_created(["hikikomori", "employment"], basis="none")
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 1, event_type="referral_created")
    await publish(producer, consent_changed(case_id, "support_meeting", previous="none"))
    created = await tap.wait_for(case_id, 2, event_type="referral_created")
    assert {r.data["programme"] for r in created} == {"csw_outreach", "life_independence"}


async def test_the_referral_lifecycle(start_runtime, producer, tap: Tap, group: str) -> None:
    runtime = await start_runtime()
    case = case_created(["income_shortfall", "isolation"], most_pressing="income_shortfall")
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 2, event_type="referral_created")
    lead, member = await referrals_of(runtime, case_id)
    assert (lead["programme"], member["programme"]) == ("life_independence", "csw_participation")

    await publish(producer, referral_response(lead, "accept", staff="tanaka"))
    await publish(producer, referral_response(lead, "start", staff="tanaka"))
    await publish(
        producer, referral_response(lead, "close", staff="tanaka", outcome="生活保護につないだ")
    )
    await publish(producer, referral_response(member, "decline", reason="対象外", staff="sato"))

    changes = await tap.wait_for(case_id, 8, event_type="referral_status_changed")
    # Every change on the case topic (intake's closed loop) and on the programme's topic.
    for topic in (CASE_TOPIC, programme_topic_name("life_independence")):
        on_topic = [
            r.data
            for r in changes
            if r.topic == topic and r.data["referral_id"] == lead["referral_id"]
        ]
        assert [(c["previous_status"], c["status"]) for c in on_topic] == [
            ("pending", "accepted"),
            ("accepted", "in_progress"),
            ("in_progress", "closed"),
        ]
        assert on_topic[-1]["outcome"] == "生活保護につないだ"
        assert on_topic[0]["taken_by"] == "tanaka"
    declined = [r for r in changes if r.data["referral_id"] == member["referral_id"]]
    assert {r.topic for r in declined} == {CASE_TOPIC, programme_topic_name("csw_participation")}
    for record in declined:
        assert record.data["status"] == "declined"
        assert record.data["reason"] == "対象外"
        # life_independence already has the case: the coordinator takes it back.
        assert record.data["suggested_next"] == "csw_outreach"

    lead_now, member_now = await referrals_of(runtime, case_id)
    assert (lead_now["status"], lead_now["outcome"], lead_now["taken_by"]) == (
        "closed",
        "生活保護につないだ",
        "tanaka",
    )
    assert (member_now["status"], member_now["suggested_next"]) == ("declined", "csw_outreach")

    # A response the status no longer allows (a race between two staff) changes nothing,
    # is recorded as refused, and is not dead-lettered.
    await publish(producer, referral_response(member, "accept", staff="suzuki"))
    await publish(
        producer, referral_response(lead, "decline", reason="遅れて押した", staff="suzuki")
    )
    await settle(runtime, tap, group)
    assert len(tap.find(case_id, event_type="referral_status_changed")) == 8
    assert [r["status"] for r in await referrals_of(runtime, case_id)] == ["closed", "declined"]
    h = runtime.tables.referral_status_change
    async with runtime.sessions() as session:
        history = (
            await session.execute(
                select(h.c.action, h.c.from_status, h.c.to_status, h.c.applied, h.c.note)
                .where(h.c.case_id == case_id)
                .order_by(h.c.id)
            )
        ).all()
    assert [(a, f, t, ok) for a, f, t, ok, _ in history] == [
        ("create", None, "pending", True),
        ("create", None, "pending", True),
        ("accept", "pending", "accepted", True),
        ("start", "accepted", "in_progress", True),
        ("close", "in_progress", "closed", True),
        ("decline", "pending", "declined", True),
        ("accept", "declined", "declined", False),
        ("decline", "closed", "closed", False),
    ]
    assert "cannot accept a referral that is declined" in history[-2].note
    assert not [r for r in tap.find(case_id) if r.topic.endswith(".dlq")]


async def test_a_response_needs_its_reason_or_outcome(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    runtime = await start_runtime()
    case = case_created(["housing"])
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 1, event_type="referral_created")
    (referral,) = await referrals_of(runtime, case_id)
    await publish(producer, referral_response(referral, "decline"))  # no reason
    await settle(runtime, tap, group)
    assert [r["status"] for r in await referrals_of(runtime, case_id)] == ["pending"]
    assert not tap.find(case_id, event_type="referral_status_changed")


async def test_sealed_words_are_enough_and_are_forwarded_unopened(
    start_runtime, producer, tap: Tap
) -> None:
    """Staff's words come sealed with the resident's record key (ADR 12): they satisfy the
    lifecycle's need for a reason or outcome, and routing stores and forwards them as they
    came, beside the codes in clear; it has no key to open them."""
    runtime = await start_runtime()
    case = case_created(["income_shortfall", "isolation"], most_pressing="income_shortfall")
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 2, event_type="referral_created")
    lead, member = await referrals_of(runtime, case_id)
    reason_sealed = "rk1:res-x:record:gAAAAAB-reason-as-intake-sealed-it"
    outcome_sealed = "rk1:res-x:record:gAAAAAB-outcome-as-intake-sealed-it"

    await publish(
        producer,
        referral_response(
            member, "decline", reason_sealed=reason_sealed, reason_code="resident_declined"
        ),
    )
    await publish(producer, referral_response(lead, "accept"))
    await publish(producer, referral_response(lead, "start"))
    await publish(
        producer,
        referral_response(
            lead,
            "close",
            outcome="解決した",
            outcome_sealed=outcome_sealed,
            outcome_code="resolved",
        ),
    )
    changes = await tap.wait_for(case_id, 8, event_type="referral_status_changed")
    on_case = {
        (r.data["referral_id"], r.data["status"]): r.data for r in changes if r.topic == CASE_TOPIC
    }
    declined = on_case[(member["referral_id"], "declined")]
    assert (declined["reason"], declined["reason_sealed"], declined["reason_code"]) == (
        None,
        reason_sealed,
        "resident_declined",
    )
    closed = on_case[(lead["referral_id"], "closed")]
    assert (closed["outcome"], closed["outcome_sealed"], closed["outcome_code"]) == (
        "解決した",
        outcome_sealed,
        "resolved",
    )
    lead_now, member_now = await referrals_of(runtime, case_id)
    assert (member_now["reason"], member_now["reason_code"]) == (reason_sealed, "resident_declined")
    assert (lead_now["outcome"], lead_now["outcome_code"]) == (outcome_sealed, "resolved")


async def test_events_that_can_never_apply_are_dead_lettered(
    start_runtime, producer, tap: Tap
) -> None:
    await start_runtime()
    never_routed = new_case_id()
    stranger = {
        "case_id": never_routed,
        "referral_id": "00000000-0000-0000-0000-000000000000",
        "programme": "welfare_fund",
    }
    await publish(producer, referral_response(stranger, "accept"))
    (dead,) = await tap.wait_for(never_routed, 1)
    assert dead.topic == "intake.referral_response.v1.dlq"
    assert "no referral" in dead.headers["dlq-error"]


async def test_a_withdrawal_takes_the_case_from_every_programme_but_the_lead(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    """Withdrawn referrals never escalate; consent given again puts each back as it was."""
    clock = FakeClock()
    runtime = await start_runtime(clock)
    # An urgent compound case: the coordinator (csw_outreach) leads, three members; all
    # receive it on consent.
    case = case_created(
        ["housing", "isolation", "disability"],
        most_pressing="housing",
        eviction_within_7_days=True,
    )
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 4, event_type="referral_created")
    referrals = await referrals_of(runtime, case_id)
    lead = next(r for r in referrals if r["programme"] == "csw_outreach")
    members = [r for r in referrals if r is not lead]
    assert len(members) == 3
    accepted, waiting = members[0], members[1]
    await publish(producer, referral_response(accepted, "accept", staff="sato"))
    await tap.wait_for(case_id, 2, event_type="referral_status_changed")

    await publish(producer, consent_changed(case_id, "none", previous="consent"))
    await tap.wait_for(case_id, 2, event_type="consent_withdrawn")
    # Each member's referral is withdrawn, on intake's topic and on the programme's own.
    changes = await tap.wait_for(case_id, 2 + 6, event_type="referral_status_changed")
    withdrawn = [c for c in changes if c.data["status"] == "withdrawn"]
    assert {(c.topic, c.data["programme"]) for c in withdrawn} == {
        (t, m["programme"])
        for m in members
        for t in (CASE_TOPIC, programme_topic_name(m["programme"]))
    }
    now = {r["programme"]: r["status"] for r in await referrals_of(runtime, case_id)}
    assert now == {lead["programme"]: "pending"} | {m["programme"]: "withdrawn" for m in members}

    # The urgent deadline passes: the lead's pending referral escalates, the withdrawn never.
    await runtime.stop()
    clock.advance(hours=2)
    runtime = await start_runtime(clock)
    escalated = await tap.wait_for(case_id, 2, event_type="referral_escalated")
    assert {e.data["programme"] for e in escalated} == {lead["programme"]}
    await asyncio.sleep(1.5)  # more scans
    await settle(runtime, tap, group)
    assert {e.data["programme"] for e in tap.find(case_id, event_type="referral_escalated")} == {
        lead["programme"]
    }

    # Consent given again: each member is back where it was, the waiting one with a new clock.
    await publish(producer, consent_changed(case_id, "consent", previous="none"))
    await tap.wait_for(case_id, 2 + 6 + 6, event_type="referral_status_changed")
    restored = {r["programme"]: r for r in await referrals_of(runtime, case_id)}
    assert restored[accepted["programme"]]["status"] == "accepted"
    assert restored[waiting["programme"]]["status"] == "pending"
    assert restored[waiting["programme"]]["deadline_at"] == deadline_for(clock.now, True, RULES)
    h = runtime.tables.referral_status_change
    async with runtime.sessions() as session:
        history = (
            await session.execute(
                select(h.c.action, h.c.from_status, h.c.to_status)
                .where(h.c.referral_id == accepted["referral_id"])
                .order_by(h.c.id)
            )
        ).all()
    assert [tuple(x) for x in history] == [
        ("create", None, "pending"),
        ("accept", "pending", "accepted"),
        ("withdraw", "accepted", "withdrawn"),
        ("restore", "withdrawn", "accepted"),
    ]
    # A response to a withdrawn referral would be refused; none was dead-lettered.
    assert not [r for r in tap.find(case_id) if r.topic.endswith(".dlq")]
