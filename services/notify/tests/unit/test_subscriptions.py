"""Notify reads its own topics, from the registry, and no field that names a concern (ADR 25)."""

from __future__ import annotations

from typing import Any

from tsunagu.notify import asyncapi
from tsunagu.notify.entrypoints import consumers
from tsunagu.shared.contracts import food, topics
from tsunagu.shared.contracts.personal_data import PERSONAL_DATA


class _Recorder:
    """Stands in for the runtime: records what ``register`` subscribes to."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def consume(self, topic_names: Any, handlers: dict[str, Any], **_: Any) -> None:
        self.calls.append((list(topic_names), handlers))


class _Notify:
    tables = type("Tables", (), {"inbox": None})()


def test_notify_subscribes_to_its_own_topics_and_not_the_case_topics() -> None:
    runtime = _Recorder()
    consumers.register(runtime, _Notify())  # type: ignore[arg-type]
    (case_topics, case_handlers), (programme_topics, _) = runtime.calls
    assert case_topics == [topics.INTAKE_CONTACT.name, topics.ROUTING_NOTIFY.name, topics.FOOD.name]
    assert programme_topics == [t.name for t in topics.PROGRAMME_TOPICS.values()]
    subscribed = set(case_topics) | set(programme_topics)
    assert not subscribed & {topics.INTAKE_CASE.name, topics.ROUTING_CASE.name}
    # What notify subscribes to is what the registry (and so its Kafka user) gives it.
    assert subscribed | {topics.INTAKE_STAFF.name} == {
        t.name for t in topics.consumed_by(topics.NOTIFY)
    }
    # Every event type of its own topics has a handler; of food.v1, low stock alone.
    own = set(topics.INTAKE_CONTACT.event_types) | set(topics.ROUTING_NOTIFY.event_types)
    assert set(case_handlers) == own | {food.STOCK_LOW}


def test_notify_reads_no_field_that_names_a_concern_or_a_reason() -> None:
    """Of every message on notify's own topics, no field is a concern, reason, age or flag:
    the special-care fields are the consent's codes (whether and how the resident may be
    reached) and which programmes hold the case."""
    for topic in (topics.INTAKE_CONTACT, topics.ROUTING_NOTIFY):
        for event_type in topic.event_types:
            for carried in PERSONAL_DATA[event_type].fields:
                assert carried.path not in {"facts", "reasons", "external", "concerns"}
                if carried.special_care:
                    assert carried.path in {
                        "consent", "lead", "coordinator", "referrals", "programme",
                        "suggested_next", "urgent",
                    }, (event_type, carried.path)  # fmt: skip
                if carried.path == "urgent":  # an escalation is marked urgent for the supervisor
                    assert event_type == "referral_escalated"


def test_the_asyncapi_document_receives_notifys_own_topics() -> None:
    doc = asyncapi.document()
    received = {
        doc["channels"][op["channel"]["$ref"].split("/")[-1]]["address"]
        for op in doc["operations"].values()
        if op["action"] == "receive"
    }
    assert topics.INTAKE_CONTACT.name in received and topics.ROUTING_NOTIFY.name in received
    assert not received & {topics.INTAKE_CASE.name, topics.ROUTING_CASE.name}
