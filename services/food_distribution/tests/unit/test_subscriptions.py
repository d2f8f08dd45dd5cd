"""What food subscribes to comes from the topic registry, and is only its own topic (ADR 24)."""

from __future__ import annotations

from typing import Any

from tsunagu.food_distribution import asyncapi
from tsunagu.food_distribution.entrypoints import consumers
from tsunagu.shared.contracts import routing, topics
from tsunagu.shared.contracts.personal_data import PERSONAL_DATA


class _Recorder:
    """Stands in for the runtime: records what ``register`` subscribes to."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def consume(self, topic_names: Any, handlers: dict[str, Any], **_: Any) -> None:
        self.calls.append((list(topic_names), handlers))


def test_food_subscribes_to_routings_food_topic_alone() -> None:
    runtime = _Recorder()
    consumers.register(runtime, deps=None)  # type: ignore[arg-type]
    [(subscribed, handlers)] = runtime.calls
    assert subscribed == [topics.ROUTING_FOOD.name]
    assert topics.INTAKE_CASE.name not in subscribed
    assert topics.ROUTING_CASE.name not in subscribed
    # Every event type on the topic has a handler, and nothing else is handled.
    assert set(handlers) == set(topics.ROUTING_FOOD.event_types) == set(consumers.HANDLED)


def test_food_reads_no_field_that_names_a_concern() -> None:
    """Of every message food reads, no field is a concern, reason, age or flag: the one
    special-care fact is that a parcel is due."""
    for event_type in consumers.HANDLED:
        for carried in PERSONAL_DATA[event_type].fields:
            assert carried.path not in {"facts", "consent", "reasons", "referrals", "external"}
            if carried.special_care:
                assert carried.path == "food_parcel_eligible", (event_type, carried.path)


def test_the_asyncapi_document_reads_routings_food_topic_only() -> None:
    doc = asyncapi.document()
    received = {
        doc["channels"][op["channel"]["$ref"].split("/")[-1]]["address"]
        for op in doc["operations"].values()
        if op["action"] == "receive"
    }
    assert received == {topics.ROUTING_FOOD.name, topics.INTAKE_STAFF.name}
    assert routing.FOOD_CASE_ROUTED in doc["components"]["messages"]
