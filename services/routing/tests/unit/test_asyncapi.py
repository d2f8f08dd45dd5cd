"""The AsyncAPI document: committed copy up to date, every topic and event documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tsunagu.routing.asyncapi import document, to_yaml
from tsunagu.shared.contracts.codes import Programme
from tsunagu.shared.contracts.registry import EVENT_MODELS
from tsunagu.shared.contracts.topics import PROGRAMME_TOPICS, ROUTING_CASE

COMMITTED = Path(__file__).parents[2] / "asyncapi.yaml"
REGENERATE = "make asyncapi"


def test_committed_document_is_what_the_code_generates() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == to_yaml(), (
        f"{COMMITTED} is out of date with the contracts or the topic registry; "
        f"regenerate it from the repository root with:\n    {REGENERATE}"
    )


def test_every_programme_topic_is_published_with_its_events() -> None:
    doc = document()
    for programme in Programme:
        topic = PROGRAMME_TOPICS[programme]
        channel_id = topic.name.replace(".", "_")
        channel = doc["channels"][channel_id]
        assert channel["address"] == topic.name
        assert list(channel["messages"]) == list(topic.event_types)
        operation = doc["operations"][f"send_{channel_id}"]
        assert operation["action"] == "send"
        assert len(operation["messages"]) == len(topic.event_types)
    case_channel = doc["channels"]["routing_case_v1"]
    assert list(case_channel["messages"]) == list(ROUTING_CASE.event_types)


def test_message_payloads_are_the_contract_models() -> None:
    doc = document()
    for event_type, message in doc["components"]["messages"].items():
        model = EVENT_MODELS[event_type]
        data_ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        schema = resolve(doc, data_ref)
        assert set(schema["properties"]) == set(model.model_fields)
    created = doc["components"]["schemas"]["ReferralCreated"]
    assert {"referral_id", "programme", "deadline_at", "concerns"} <= set(created["required"])


def test_every_reference_resolves() -> None:
    doc = document()
    refs = list(references(doc))
    assert refs
    for ref in refs:
        resolve(doc, ref)


def references(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node
