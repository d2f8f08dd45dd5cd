"""After a decline: staff take routing's suggestion (or add a programme), and routing refers."""

from __future__ import annotations

import pytest
from routing_testkit import (
    Tap,
    case_created,
    publish,
    referral_requested,
    referral_response,
    referrals_of,
    settle,
)

from tsunagu.shared.contracts.topics import ROUTING_CASE, programme_topic_name

pytestmark = pytest.mark.integration


async def test_the_suggested_programme_gets_a_referral_when_staff_ask(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    runtime = await start_runtime()
    case = case_created(["income_shortfall", "isolation"], most_pressing="income_shortfall")
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 2, event_type="referral_created")
    _, member = await referrals_of(runtime, case_id)
    await publish(producer, referral_response(member, "decline", reason="対象外", staff="sato"))
    [declined, _] = await tap.wait_for(case_id, 2, event_type="referral_status_changed")
    suggested = declined.data["suggested_next"]
    assert suggested == "csw_outreach"

    await publish(producer, referral_requested(case_id, suggested, after=member["referral_id"]))
    [created] = [
        r
        for r in await tap.wait_for(case_id, 3, event_type="referral_created")
        if r.data["programme"] == suggested
    ]
    assert created.topic == programme_topic_name(suggested)
    assert created.data["reasons"] == [{"code": "requested_after_decline", "params": {}}]
    [rerouted] = await tap.wait_for(case_id, 1, event_type="case_rerouted")
    assert rerouted.topic == ROUTING_CASE.name
    added = rerouted.data["added"]
    assert [r["programme"] for r in rerouted.data["referrals"] if r["referral_id"] in added] == [
        suggested
    ]
    rows = {r["programme"]: r for r in await referrals_of(runtime, case_id)}
    assert (rows[suggested]["status"], rows[suggested]["role"]) == ("pending", "member")
    assert rows[suggested]["deadline_at"] is not None

    # Asked again (a double click, a second staff member): no second referral, nothing sent.
    await publish(producer, referral_requested(case_id, suggested, after=member["referral_id"]))
    await settle(runtime, tap, group)
    assert len(await referrals_of(runtime, case_id)) == 3
    assert len(tap.find(case_id, event_type="case_rerouted")) == 1
    assert not [r for r in tap.find(case_id) if r.topic.endswith(".dlq")]


async def test_decline_reasons_and_outcomes_travel_as_codes_beside_the_text(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    runtime = await start_runtime()
    case = case_created(["income_shortfall", "isolation"], most_pressing="income_shortfall")
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 2, event_type="referral_created")
    lead, member = await referrals_of(runtime, case_id)
    await publish(
        producer,
        referral_response(
            member, "decline", reason="対象外のため", reason_code="out_of_scope", staff="sato"
        ),
    )
    await publish(producer, referral_response(lead, "accept", staff="tanaka"))
    await publish(producer, referral_response(lead, "start", staff="tanaka"))
    await publish(
        producer,
        referral_response(
            lead, "close", outcome="生活保護を申請", outcome_code="connected_to_service"
        ),
    )
    changes = await tap.wait_for(case_id, 8, event_type="referral_status_changed")
    on_case = [r.data for r in changes if r.topic == ROUTING_CASE.name]
    declined = next(c for c in on_case if c["status"] == "declined")
    closed = next(c for c in on_case if c["status"] == "closed")
    assert (declined["reason_code"], declined["reason"]) == ("out_of_scope", "対象外のため")
    assert (closed["outcome_code"], closed["outcome"]) == ("connected_to_service", "生活保護を申請")
    rows = {r["programme"]: r for r in await referrals_of(runtime, case_id)}
    assert rows[member["programme"]]["reason_code"] == "out_of_scope"
    assert rows[lead["programme"]]["outcome_code"] == "connected_to_service"
