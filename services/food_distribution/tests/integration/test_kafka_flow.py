"""Food distribution on real Kafka: cases in from routing.food.v1, events out on food.v1.

The runtime runs for real here (consumer group, inbox, outbox relay). The topics are shared by
the whole test session, so every check filters by this test's own case and event ids.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from food_kit import (
    Food,
    case_rerouted,
    case_routed,
    consent_withdrawn,
    eventually,
    read_topic,
    uid,
)

from tsunagu.food_distribution.config import FoodConfig
from tsunagu.shared.broker import PRODUCER_OPTIONS
from tsunagu.shared.contracts import food as contract
from tsunagu.shared.contracts import topics
from tsunagu.shared.contracts.envelope import Envelope, utcnow

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def live(test_settings, food_schema) -> AsyncIterator[Food]:
    food = Food.build(test_settings("food_distribution"), FoodConfig(low_stock_threshold=3))
    await food.runtime.start()
    yield food
    await food.runtime.stop()
    await food.close()


@pytest.fixture(scope="module")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **PRODUCER_OPTIONS)
    await producer.start()
    yield producer
    await producer.stop()


async def on_food_topic(
    bootstrap: str, event_type: str, **match: str
) -> list[tuple[str, Envelope]]:
    return [
        (key, env)
        for key, env in await read_topic(bootstrap, topics.FOOD.name)
        if env.event_type == event_type and all(env.data.get(k) == v for k, v in match.items())
    ]


async def test_a_case_routing_finds_eligible_is_granted_once_even_when_replayed(
    live: Food, producer: AIOKafkaProducer, kafka_bootstrap: str
) -> None:
    ev = uid("ev")
    routed = case_routed(live.settings, event_id=ev, eligible=True)
    case_id = routed.data["case_id"]
    key = case_id.encode()
    await producer.send_and_wait(topics.ROUTING_FOOD.name, routed.to_bytes(), key=key)

    async def granted() -> list[tuple[str, Envelope]]:
        return await on_food_topic(kafka_bootstrap, contract.ELIGIBILITY_GRANTED, case_id=case_id)

    await eventually(lambda: _has(granted(), 1))
    [(published_key, envelope)] = await granted()
    assert published_key == case_id
    assert envelope.producer == "food_distribution"
    assert envelope.causation_id == routed.event_id
    assert envelope.correlation_id == routed.correlation_id
    data = contract.EligibilityGranted.model_validate(envelope.data)
    assert (data.basis, data.event_id, data.household_id) == (
        "economic_concern", ev, routed.data["household_id"],
    )  # fmt: skip

    # Redelivery of the same envelope, twice, the case published again under a new event id,
    # and the case routed again (a correction) still eligible.
    republished = Envelope(**{**routed.model_dump(), "event_id": "re-" + routed.event_id})
    again = case_rerouted(case_id, True)
    for raw in (routed.to_bytes(), routed.to_bytes(), republished.to_bytes(), again.to_bytes()):
        await producer.send_and_wait(topics.ROUTING_FOOD.name, raw, key=key)
    # A case routing finds not eligible and then a marker on the same key, so the same
    # partition: once the marker's eligibility is out, everything sent before it has been
    # handled.
    quiet = case_routed(live.settings, event_id=ev, eligible=False)
    marker = case_routed(live.settings, event_id=ev, eligible=True)
    for envelope in (quiet, marker):
        await producer.send_and_wait(topics.ROUTING_FOOD.name, envelope.to_bytes(), key=key)
    marker_id = marker.data["case_id"]
    await eventually(
        lambda: _has(
            on_food_topic(kafka_bootstrap, contract.ELIGIBILITY_GRANTED, case_id=marker_id), 1
        )
    )
    await asyncio.sleep(1.0)  # give a wrong second publication time to show up

    assert len(await granted()) == 1
    quiet_id = quiet.data["case_id"]
    assert (
        await on_food_topic(kafka_bootstrap, contract.ELIGIBILITY_GRANTED, case_id=quiet_id) == []
    )
    assert await live.scalar(
        "SELECT count(*) FROM food_distribution.eligibility WHERE case_id = :c", c=case_id
    ) == 1  # fmt: skip

    desk = live.client()
    status = (await desk.get(f"/api/v1/eligibility/{case_id}")).json()
    assert status["eligible"] is True
    assert (await desk.get(f"/api/v1/eligibility/{quiet_id}")).json()["eligible"] is False
    hits = (await desk.get("/api/v1/cases", params={"event_id": ev, "q": "やまだ"})).json()
    assert case_id in {h["case_id"] for h in hits}


async def test_a_withdrawal_and_an_erasure_on_routings_topic_reach_the_desk(
    live: Food, producer: AIOKafkaProducer
) -> None:
    """Routing tells the withdrawal and forwards the erasure on the desk's own topic: the
    furigana goes, an unused eligibility goes, and after the erasure a replayed case brings
    nothing back."""
    ev = uid("ev")
    withdrawn_case = case_routed(live.settings, event_id=ev, eligible=True)
    erased_case = case_routed(live.settings, event_id=ev, eligible=True)
    w_id, e_id = withdrawn_case.data["case_id"], erased_case.data["case_id"]
    erased = Envelope(
        event_type="resident_erased",
        producer="routing",
        data={"case_id": e_id, "resident_id": uid("res"), "erased_at": utcnow().isoformat(),
              "basis": "request"},
    )  # fmt: skip
    sent = [
        (withdrawn_case, w_id), (erased_case, e_id), (consent_withdrawn(w_id), w_id),
        (erased, e_id),
        (Envelope(**{**erased_case.model_dump(), "event_id": "re-" + erased_case.event_id}), e_id),
    ]  # fmt: skip
    for envelope, case_id in sent:
        await producer.send_and_wait(
            topics.ROUTING_FOOD.name, envelope.to_bytes(), key=case_id.encode()
        )

    async def settled() -> bool:
        kana = await live.scalar(
            "SELECT count(*) FROM food_distribution.case_index"
            " WHERE case_id IN (:w, :e) AND kana_sealed IS NOT NULL",
            w=w_id,
            e=e_id,
        )
        tomb = await live.scalar(
            "SELECT count(*) FROM food_distribution.erased_case WHERE case_id = :e", e=e_id
        )
        replayed = await live.scalar(
            "SELECT count(*) FROM food_distribution.inbox WHERE event_id = :r",
            r="re-" + erased_case.event_id,
        )
        return kana == 0 and tomb == 1 and replayed == 1

    await eventually(settled)
    assert await live.scalar(
        "SELECT count(*) FROM food_distribution.eligibility WHERE case_id = :w", w=w_id
    ) == 0  # fmt: skip


async def test_handouts_and_low_stock_once_per_crossing_on_food_topic(
    live: Food, kafka_bootstrap: str
) -> None:
    ev = uid("ev")
    await live.stock(ev, standard=5)
    households = [await live.case(event_id=ev) for _ in range(4)]
    desk = live.client("tanaka")
    for case in households:  # 5 -> 4 -> 3 -> 2 (below 3: the first crossing) -> 1
        r = await desk.post(
            "/api/v1/handouts", json={"case_id": case["case_id"], "parcel_type": "standard"}
        )
        assert r.status_code == 201, r.text
    await live.stock(ev, standard=4)  # 5: back at or above the threshold
    r = await desk.post(
        "/api/v1/stock/adjustments",
        json={"event_id": ev, "parcel_type": "standard", "delta": -3, "reason": "破損"},
    )
    assert r.status_code == 201  # 5 -> 2: the second crossing

    async def low() -> list[tuple[str, Envelope]]:
        return await on_food_topic(kafka_bootstrap, contract.STOCK_LOW, event_id=ev)

    await eventually(lambda: _has(low(), 2))
    await asyncio.sleep(1.0)
    alerts = await low()
    assert len(alerts) == 2
    assert {key for key, _ in alerts} == {ev}
    data = [contract.StockLow.model_validate(env.data) for _, env in alerts]
    assert [(d.remaining, d.threshold, d.parcel_type.value) for d in data] == [
        (2, 3, "standard"), (2, 3, "standard"),
    ]  # fmt: skip
    assert data[0].venue_id == "venue-aeon"

    handed = await on_food_topic(kafka_bootstrap, contract.PARCEL_HANDED_OUT, event_id=ev)
    assert sorted(key for key, _ in handed) == sorted(c["case_id"] for c in households)
    assert {env.data["handed_out_by"] for _, env in handed} == {"tanaka"}


async def _has(found, count: int) -> bool:
    return len(await found) >= count
