"""Notify's own topic from routing, routing.notify.v1 (ADR 25), on a real broker and database:
the twin of every event on routing.case.v1, in the same order, without a reason, agency,
urgency, eligibility or staff's words."""

from __future__ import annotations

import json

import pytest
from routing_testkit import (
    FakeClock,
    Tap,
    case_created,
    consent_changed,
    publish,
    referral_response,
    settle,
)

from tsunagu.shared.contracts.codes import Concern
from tsunagu.shared.contracts.reasons import ReasonCode
from tsunagu.shared.contracts.routing import NOTIFY_TWINS
from tsunagu.shared.contracts.topics import ROUTING_CASE, ROUTING_NOTIFY

pytestmark = pytest.mark.integration
NOTIFY_TOPIC, CASE_TOPIC = ROUTING_NOTIFY.name, ROUTING_CASE.name

#: Keys of the case's facts and routing's reasons that must never reach notify.
FORBIDDEN_KEYS = (
    "concerns", "most_pressing", "age", "lives_alone", "disability_certificate",
    "special_loan_borrower", "no_food_today", "eviction_within_7_days", "consent", "reasons",
    "external", "awaiting_consent", "food_parcel_eligible", "compound", "contact_sealed",
    "kana_sealed", "resident_id", "reason", "outcome", "reason_code", "outcome_code",
    "reason_sealed", "outcome_sealed", "by", "taken_by",
)  # fmt: skip


def leaks(raw: bytes) -> list[str]:
    """Every concern code, reason code and forbidden key found in a message (as a JSON string:
    the programme ``disability_support`` is not the concern ``disability``)."""
    text = raw.decode()
    found = [c.value for c in Concern if f'"{c.value}"' in text]
    found += [r.value for r in ReasonCode if f'"{r.value}"' in text]
    found += [k for k in FORBIDDEN_KEYS if f'"{k}"' in text]
    return found


async def test_every_case_event_has_its_twin_for_notify_without_reasons(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    clock = FakeClock()
    runtime = await start_runtime(clock)
    case = case_created(
        ["debt_arrears", "dv_abuse", "disability", "isolation"],
        most_pressing="debt_arrears",
        age=82,
        lives_alone=True,
        disability_certificate=True,
        no_food_today=True,
    )
    case_id = case.data["case_id"]
    await publish(producer, case)
    [routed] = await tap.wait_for(case_id, 1, topic=CASE_TOPIC, event_type="case_routed")
    [twin] = await tap.wait_for(case_id, 1, topic=NOTIFY_TOPIC)
    assert twin.envelope.event_type == "notify_case_routed"
    assert twin.envelope.causation_id == routed.envelope.event_id
    assert twin.envelope.occurred_at == routed.envelope.occurred_at
    assert twin.data == {
        "case_id": case_id,
        "case_number": case.data["case_number"],
        "lead": routed.data["lead"],
        "coordinator": routed.data["coordinator"],
        "referrals": [
            {k: r[k] for k in ("referral_id", "programme", "role", "status", "deadline_at")}
            for r in routed.data["referrals"]
        ],
    }
    assert routed.data["referrals"][0]["reasons"]  # what the twin leaves out

    # A member declines (with staff's reason), then the resident withdraws consent.
    member = next(r for r in routed.data["referrals"] if r["role"] == "member")
    clock.advance(minutes=1)
    await publish(
        producer,
        referral_response(
            {"case_id": case_id, **member}, "decline", reason="対象外です",
            reason_code="out_of_scope",
        ),
    )  # fmt: skip
    await tap.wait_for(case_id, 1, topic=NOTIFY_TOPIC, event_type="notify_referral_status_changed")
    clock.advance(minutes=1)
    await publish(producer, consent_changed(case_id, "none", previous="consent"))
    await tap.wait_for(case_id, 2, topic=NOTIFY_TOPIC, event_type="notify_referral_status_changed")
    await settle(runtime, tap, group)

    originals = tap.find(case_id, topic=CASE_TOPIC)
    twins = tap.find(case_id, topic=NOTIFY_TOPIC)
    # One twin per event, in the order of routing.case.v1, each naming the event it tells.
    assert [t.envelope.causation_id for t in twins] == [o.envelope.event_id for o in originals]
    assert [t.envelope.event_type for t in twins] == [
        NOTIFY_TWINS[o.envelope.event_type][0] for o in originals
    ]
    declined = next(t for t in twins if t.data.get("status") == "declined")
    assert declined.data == {
        "case_id": case_id,
        "case_number": case.data["case_number"],
        "referral_id": member["referral_id"],
        "programme": member["programme"],
        "status": "declined",
        "suggested_next": declined.data["suggested_next"],
    }
    for record in twins:
        assert leaks(record.value + json.dumps(record.headers, default=str).encode()) == [], (
            record.envelope.event_type
        )
        assert 82 not in record.data.values()
    # The check can fail: the originals name it all.
    assert {"reasons", "external", "food_parcel_eligible"} <= set(leaks(originals[0].value))
    assert "reason" in leaks(next(o for o in originals if o.data.get("status") == "declined").value)
