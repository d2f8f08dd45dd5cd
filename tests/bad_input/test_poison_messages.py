"""Malformed, truncated, oversized and wrong-version messages on every consumed topic land in
the DLQ with a reason; later good messages are applied; a fixed failure is replayed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from cases import case_body
from stack import wait_for

from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import ALL_TOPICS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

CONSUMED = [t for t in ALL_TOPICS if t.consumers]


def poison_values(topic_event: str) -> dict[str, bytes]:
    good = Envelope(event_type=topic_event, producer="test", data={"case_id": "x"}).to_bytes()
    return {
        "malformed": b"{this is not json",
        "truncated": good[: len(good) // 2],
        "oversized": b'{"junk": "' + b"x" * 600_000 + b'"}',
        "wrong_version": Envelope(
            event_type=topic_event, producer="test", schema_version=99, data={}
        ).to_bytes(),
    }


def invalid_case_created() -> bytes:
    """A readable envelope whose data misses required fields: every consumer refuses it."""
    return Envelope(event_type="case_created", producer="test", data={"case_id": "x"}).to_bytes()


async def produce(bootstrap: str, records: list[tuple[str, int, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
        max_request_size=2_000_000,
    )  # fmt: skip
    await producer.start()
    try:
        for topic, partition, key, value in records:
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


def dlq_list(stack) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "tsunagu.shared.cli", "dlq", "list", "--json"],
        env={**os.environ, **stack.env()},
        capture_output=True,
        check=True,
        text=True,
    )
    return json.loads(out.stdout)


def take_in(stack, client, event_id: str, **overrides) -> str:
    import random

    body = case_body(random.Random(7), event_id, index=1)
    body.update(
        concerns=["income_shortfall", "isolation"],
        most_pressing="income_shortfall",
        consent={"share_across_programmes": True, "basis": "consent",
                 "contact_channels": ["email"], "contact_time": "any"},
    )  # fmt: skip
    body.update(overrides)
    r = client.post("/api/v1/cases", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


def test_poison_on_every_consumed_topic_goes_to_the_dlq_and_good_messages_flow(stack):
    intake = stack.client("intake", "uketsuke")
    event = intake.get("/api/v1/events").json()[0]
    records = []
    expected = 0
    for topic in CONSUMED:
        event_type = topic.event_types[0]
        for kind, value in poison_values(event_type).items():
            for partition in range(topic.partitions):
                records.append((topic.name, partition, f"poison-{kind}".encode(), value))
            expected += topic.partitions * len(topic.groups)
    case_topic = next(t for t in CONSUMED if t.name == "intake.case.v1")
    for partition in range(case_topic.partitions):
        records.append((case_topic.name, partition, b"poison-invalid", invalid_case_created()))
    expected += case_topic.partitions * len(case_topic.groups)
    asyncio.run(produce(stack.infra.kafka_bootstrap, records))

    dead = wait_for(
        lambda: (rows := dlq_list(stack)) and len(rows) >= expected and rows,
        timeout=300,
        interval=2,
        what=f"{expected} dead letters",
    )
    assert len(dead) == expected, "each consumer dead-letters each poison message once"
    for row in dead:
        assert row["error"], "every dead letter says why"
        assert row["origin"].split("/")[0] + ".dlq" == row["dlq_topic"]
    reasons = " ".join(row["error"] for row in dead)
    assert "unreadable envelope" in reasons
    assert "schema_version 99 is newer" in reasons
    assert "invalid case_created data" in reasons

    # Every partition still flows: a real case goes all the way round.
    case_id = take_in(stack, intake, event["event_id"])
    wait_for(
        lambda: (
            (c := intake.get(f"/api/v1/cases/{case_id}").json())["referrals"]
            and c["food_parcel_eligible"]
        ),
        timeout=120,
        what="referrals and eligibility back on the case",
    )
    wait_for(
        lambda: (
            stack.query(
                "SELECT count(*) FROM notify.delivery WHERE case_id = $1 AND status = 'sent'",
                case_id,
            )[0][0]
            >= 2
        ),
        timeout=120,
        what="notify to send the team messages",
    )


def test_a_failure_fixed_later_is_replayed_from_the_dlq(stack):
    """A broken table makes routing exhaust its retries; after the fix, a replay applies it."""
    intake = stack.client("intake", "uketsuke")
    event = intake.get("/api/v1/events").json()[0]
    before = {(r["dlq_topic"], r["dlq_offset"]) for r in dlq_list(stack)}
    stack.query("ALTER TABLE routing.decision RENAME TO decision_broken")
    try:
        case_id = take_in(stack, intake, event["event_id"])
        new = wait_for(
            lambda: [
                r for r in dlq_list(stack)
                if (r["dlq_topic"], r["dlq_offset"]) not in before and r["consumer"] == "routing"
            ],
            timeout=120,
            what="routing to dead-letter the case",
        )  # fmt: skip
    finally:
        stack.query("ALTER TABLE routing.decision_broken RENAME TO decision")
    # The header says what failed without the statement's text: the error class and SQLSTATE
    # 42P01 (undefined table), the renamed routing.decision.
    error = new[0]["error"]
    assert "sqlstate=42P01" in error, error
    assert "ProgrammingError" in error or "UndefinedTableError" in error, error
    assert "decision" not in error, error
    assert (
        stack.query("SELECT count(*) FROM routing.decision WHERE case_id = $1", case_id)[0][0] == 0
    )

    subprocess.run(
        [sys.executable, "-m", "tsunagu.shared.cli", "dlq", "replay",
         new[0]["dlq_topic"], str(new[0]["dlq_offset"])],
        env={**os.environ, **stack.env()},
        check=True,
        capture_output=True,
    )  # fmt: skip
    wait_for(
        lambda: (
            stack.query("SELECT count(*) FROM routing.decision WHERE case_id = $1", case_id)[0][0]
            == 1
        ),
        timeout=120,
        what="the replayed case to be routed",
    )
    wait_for(lambda: intake.get(f"/api/v1/cases/{case_id}").json()["referrals"], timeout=60)
    # The replay reached every consumer of the topic; the others had applied it already.
    eligibility = stack.query(
        "SELECT count(*) FROM food_distribution.eligibility WHERE case_id = $1", case_id
    )
    assert eligibility[0][0] == 1
