"""The food desk's own topic, routing.food.v1 (ADR 24), on a real broker and database: what a
handout needs of each case, rule 9's decision, a withdrawal and an erasure; never a concern,
reason, age, flag or programme."""

from __future__ import annotations

import json

import pytest
from routing_testkit import (
    FakeClock,
    Tap,
    case_created,
    case_updated,
    consent_changed,
    publish,
    settle,
)

from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.codes import Concern, Programme
from tsunagu.shared.contracts.envelope import Envelope, utcnow
from tsunagu.shared.contracts.reasons import ReasonCode
from tsunagu.shared.contracts.topics import ROUTING_FOOD

pytestmark = pytest.mark.integration
FOOD_TOPIC = ROUTING_FOOD.name

#: Keys of the case's facts, consent and routing's decision that must never reach the desk.
FORBIDDEN_KEYS = (
    "concerns", "most_pressing", "age", "lives_alone", "disability_certificate",
    "special_loan_borrower", "urgent", "no_food_today", "eviction_within_7_days", "consent",
    "at_risk", "safe_channel", "reasons", "external", "referrals", "lead", "coordinator",
    "compound", "contact_sealed", "resident_id", "taken_by",
)  # fmt: skip


def leaks(raw: bytes) -> list[str]:
    """Every concern code, reason code, programme and forbidden key found in a message."""
    text = raw.decode()
    found = [c.value for c in Concern if c.value in text]
    found += [r.value for r in ReasonCode if f'"{r.value}"' in text]
    found += [p.value for p in Programme if p.value in text]
    found += [k for k in FORBIDDEN_KEYS if f'"{k}"' in text]
    return found


async def test_a_new_case_reaches_the_desk_with_its_household_furigana_and_rule_9_only(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    """Debts, DV, disability, age 82, alone, a disability certificate, no food today: the
    desk's message says the household, the event, the furigana sealed as intake sealed it, and
    that a parcel is due under rule set 2026.1; nothing else."""
    runtime = await start_runtime(FakeClock())
    case = case_created(
        ["debt_arrears", "dv_abuse", "disability", "isolation"],
        most_pressing="dv_abuse",
        age=82,
        lives_alone=True,
        disability_certificate=True,
        no_food_today=True,
    )
    quiet = case_created(["disability"], age=40)  # rule 9 does not apply
    for envelope in (case, quiet):
        await publish(producer, envelope)
    [(food)] = await tap.wait_for(case.data["case_id"], 1, topic=FOOD_TOPIC)
    [(food_quiet)] = await tap.wait_for(quiet.data["case_id"], 1, topic=FOOD_TOPIC)

    assert food.envelope.event_type == "food_case_routed"
    assert food.envelope.causation_id == case.event_id
    assert food.key == case.data["case_id"]
    sent = case.data
    assert food.data == {
        "case_id": sent["case_id"],
        "case_number": sent["case_number"],
        "event_id": sent["event_id"],
        "venue_id": sent["venue_id"],
        "venue_name": sent["venue_name"],
        "household_id": sent["household_id"],
        "created_at": sent["created_at"].replace("+00:00", "Z"),
        "event_date": "2026-01-17",  # intake's, passed on
        "kana_sealed": sent["kana_sealed"],  # passed on unopened
        "food_parcel_eligible": True,
        "rule_version": "2026.1",
    }
    assert (food_quiet.data["food_parcel_eligible"], food_quiet.data["kana_sealed"]) == (
        False, quiet.data["kana_sealed"],
    )  # fmt: skip
    # The bytes on the topic, key and headers included.
    for record in (food, food_quiet):
        assert leaks(record.value + json.dumps(record.headers, default=str).encode()) == []
        assert 82 not in record.data.values()  # the age, as a value
    await settle(runtime, tap, group)
    assert len(tap.find(case.data["case_id"], topic=FOOD_TOPIC)) == 1


async def test_a_correction_tells_the_desk_only_a_yes(start_runtime, producer, tap: Tap) -> None:
    clock = FakeClock()
    await start_runtime(clock)
    case = case_created(["isolation"])
    case_id = case.data["case_id"]
    await publish(producer, case)
    [first] = await tap.wait_for(case_id, 1, topic=FOOD_TOPIC)
    assert first.data["food_parcel_eligible"] is False

    clock.advance(minutes=5)
    await publish(producer, case_updated(case_id, ["isolation", "disability"]))
    await tap.wait_for(case_id, 1, event_type="case_rerouted")
    clock.advance(minutes=5)
    await publish(producer, case_updated(case_id, ["isolation", "income_shortfall"]))
    [yes] = await tap.wait_for(case_id, 1, event_type="food_case_rerouted")
    assert yes.topic == FOOD_TOPIC
    assert yes.data == {"case_id": case_id, "food_parcel_eligible": True, "rule_version": "2026.1"}
    assert leaks(yes.value) == []
    # Only the correction that made it eligible reached the desk (the other was a "no").
    await tap.wait_for(case_id, 2, event_type="case_rerouted")
    assert [r.envelope.event_type for r in tap.find(case_id, topic=FOOD_TOPIC)] == [
        "food_case_routed", "food_case_rerouted",
    ]  # fmt: skip


async def test_a_withdrawal_and_an_erasure_reach_the_desk_and_nothing_else_of_consent(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    clock = FakeClock()
    runtime = await start_runtime(clock)
    case = case_created(["income_shortfall"], basis="none")
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 1, topic=FOOD_TOPIC)

    # A basis given, withdrawn, given again: the desk hears of the withdrawal alone.
    for basis, previous in (("consent", "none"), ("none", "consent"), ("consent", "none")):
        clock.advance(minutes=1)
        await publish(producer, consent_changed(case_id, basis, previous=previous))
    [withdrawn] = await tap.wait_for(case_id, 1, event_type="food_consent_withdrawn")
    assert withdrawn.topic == FOOD_TOPIC
    assert withdrawn.data == {"case_id": case_id, "withdrawn_at": withdrawn.data["withdrawn_at"]}
    assert leaks(withdrawn.value) == []

    erased = intake.ResidentErased(
        case_id=case_id, resident_id=case.data["resident_id"], erased_at=utcnow(), basis="request"
    )
    await publish(
        producer,
        Envelope(
            event_type=intake.RESIDENT_ERASED,
            producer="intake",
            data=erased.model_dump(mode="json"),
        ),
    )
    [forwarded] = await tap.wait_for(case_id, 1, topic=FOOD_TOPIC, event_type="resident_erased")
    assert forwarded.data == erased.model_dump(mode="json")
    await settle(runtime, tap, group)
    assert [r.envelope.event_type for r in tap.find(case_id, topic=FOOD_TOPIC)] == [
        "food_case_routed", "food_consent_withdrawn", "resident_erased",
    ]  # fmt: skip
