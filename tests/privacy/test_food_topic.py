"""Less on the bus (ADR 24), on the whole running system: the food desk learns each case from a
topic of its own whose bytes name none of the case's concerns, routing's reasons, the age or
the flags, and it reads no topic that does."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from stack import Stack, wait_for

from tsunagu.intake.domain.case_input import EXAMPLE_BODY
from tsunagu.intake.service_layer.staff import event_id_for
from tsunagu.shared.contracts.codes import Concern, Programme
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.reasons import ReasonCode
from tsunagu.shared.contracts.topics import (
    FOOD_DISTRIBUTION,
    INTAKE_CASE,
    ROUTING_CASE,
    ROUTING_FOOD,
    consumed_by,
)
from tsunagu.shared.testing import committed_topics, read_records

pytestmark = pytest.mark.integration

KANA = "おおみや よしこ"
#: What the case's facts, consent and routing's decision are called on the other topics.
FACT_KEYS = (
    "concerns", "most_pressing", "age", "lives_alone", "disability_certificate",
    "special_loan_borrower", "urgent", "no_food_today", "eviction_within_7_days", "consent",
    "at_risk", "safe_channel", "reasons", "external", "referrals", "lead", "coordinator",
    "compound", "contact_sealed",
)  # fmt: skip


def leaks(raw: bytes) -> list[str]:
    """Every concern code, reason code, programme code and fact key a message names."""
    text = raw.decode()
    found = [c.value for c in Concern if c.value in text]
    found += [r.value for r in ReasonCode if f'"{r.value}"' in text]
    found += [p.value for p in Programme if p.value in text]
    found += [k for k in FACT_KEYS if f'"{k}"' in text]
    return found


def on_the_wire(record: Any) -> bytes:
    """A record's bytes as a reader gets them: value, key and headers."""
    headers = b"".join(k.encode() + (v or b"") for k, v in record.headers or ())
    return (record.value or b"") + (record.key or b"") + headers


def records_of(stack: Stack, topic: str, case_id: str) -> list[Any]:
    found = asyncio.run(read_records(stack.infra.kafka_bootstrap, topic, must_exist=True))
    return [r for r in found if r.key == case_id.encode()]


def test_the_food_desks_topic_names_no_concern_reason_age_or_flag(stack: Stack) -> None:
    intake = stack.client("intake", "uketsuke")
    food = stack.client("food_distribution", "food")
    event_id = event_id_for(stack.today, "aeon-mall")
    body = copy.deepcopy(EXAMPLE_BODY)
    body["event_id"] = event_id
    body["resident"] |= {
        "name_kana": KANA, "birth_date": "1948-05-01", "lives_alone": True,
        "disability_certificate": True, "special_loan_borrower": True,
    }  # fmt: skip
    body["concerns"] = ["debt_arrears", "disability", "housing", "isolation"]
    body["most_pressing"] = "debt_arrears"
    body["urgent"] = {"no_food_today": True, "eviction_within_7_days": True}
    created = intake.post("/api/v1/cases", json=body)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]

    # The desk has the case from its own topic: eligible (rule 9: debts), found by furigana.
    wait_for(
        lambda: food.get(f"/api/v1/eligibility/{case_id}").json().get("eligible"),
        what="food eligibility",
    )
    found = food.get("/api/v1/cases", params={"event_id": event_id, "q": "おおみや"}).json()
    assert [h["name_kana"] for h in found] == [KANA]

    # A withdrawal reaches the desk on the same topic.
    withdrawn = intake.post(f"/api/v1/cases/{case_id}/consent", json={"action": "withdraw"})
    assert withdrawn.status_code == 200, withdrawn.text
    wait_for(
        lambda: not food.get(f"/api/v1/eligibility/{case_id}").json().get("eligible"),
        what="the withdrawal at the food desk",
    )

    desk = records_of(stack, ROUTING_FOOD.name, case_id)
    assert [Envelope.from_bytes(r.value).event_type for r in desk] == [
        "food_case_routed", "food_consent_withdrawn",
    ]  # fmt: skip
    for record in desk:
        assert leaks(on_the_wire(record)) == [], Envelope.from_bytes(record.value).event_type
        data = Envelope.from_bytes(record.value).data
        assert 78 not in data.values() and "1948" not in json.dumps(data)
        assert KANA.encode() not in record.value  # the furigana travels sealed
    routed = Envelope.from_bytes(desk[0].value).data
    assert routed["food_parcel_eligible"] is True and routed["kana_sealed"]

    # The check can fail: the topics food no longer reads name all of it for this case.
    case_created = next(
        r
        for r in records_of(stack, INTAKE_CASE.name, case_id)
        if Envelope.from_bytes(r.value).event_type == "case_created"
    )
    assert {"debt_arrears", "disability", "housing", "age", "urgent"} <= set(
        leaks(on_the_wire(case_created))
    )
    case_routed = next(
        r
        for r in records_of(stack, ROUTING_CASE.name, case_id)
        if Envelope.from_bytes(r.value).event_type == "case_routed"
    )
    assert {"reasons", "referrals"} <= set(leaks(on_the_wire(case_routed)))

    # Food's consumer group reads (and has ever committed) nothing else.
    assert [t.name for t in consumed_by(FOOD_DISTRIBUTION)] == [
        "intake.staff.v1",
        ROUTING_FOOD.name,
    ]
    committed = asyncio.run(committed_topics(stack.infra.kafka_bootstrap, FOOD_DISTRIBUTION))
    assert ROUTING_FOOD.name in committed
    assert not committed & {INTAKE_CASE.name, ROUTING_CASE.name}
