"""Every service's AsyncAPI document: committed copy up to date, served at /asyncapi.yaml, and
the consumer contract: every example event a producer documents is read by each consumer of its
topic (its own document's schema for the message, and the event model it parses with)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tsunagu.shared.cli import asyncapi_files, main
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import EVENT_MODELS, parse
from tsunagu.shared.contracts.topics import ALL_TOPICS
from tsunagu.shared.services import names, registered
from tsunagu.shared.settings import Settings

REPO = Path(__file__).parents[2]
SERVICES = names()


def document(service: str) -> dict[str, Any]:
    module = importlib.import_module(f"{registered()[service].package}.asyncapi")
    doc: dict[str, Any] = module.document()
    return doc


DOCS = {service: document(service) for service in SERVICES}


def test_all_four_services_are_documented() -> None:
    assert set(SERVICES) == {"intake", "routing", "notify", "food_distribution"}


@pytest.mark.parametrize("service", SERVICES)
def test_committed_document_is_what_the_code_generates(service: str) -> None:
    committed = REPO / "services" / service / "asyncapi.yaml"
    assert yaml.safe_load(committed.read_text(encoding="utf-8")) == DOCS[service], (
        f"{committed} is out of date; regenerate the documents with: make asyncapi"
    )


def test_make_asyncapi_writes_what_make_lint_checks(tmp_path: Path) -> None:
    # `tsunagu asyncapi` (make asyncapi) and `tsunagu asyncapi --check` (make lint) on a copy.
    for service in SERVICES:
        (tmp_path / "services" / service).mkdir(parents=True)
    assert sorted(asyncapi_files(str(tmp_path), check=True)) == sorted(
        str(tmp_path / "services" / s / "asyncapi.yaml") for s in SERVICES
    )  # missing
    asyncapi_files(str(tmp_path), check=False)
    assert asyncapi_files(str(tmp_path), check=True) == []
    written = tmp_path / "services" / "routing" / "asyncapi.yaml"
    assert written.read_text(encoding="utf-8") == (
        REPO / "services/routing/asyncapi.yaml"
    ).read_text(encoding="utf-8")
    written.write_text(written.read_text(encoding="utf-8").replace("referral_created", "x", 1))
    assert asyncapi_files(str(tmp_path), check=True) == [str(written)]
    with pytest.raises(SystemExit, match="make asyncapi"):
        main(["asyncapi", "--check", "--root", str(tmp_path)])


@pytest.mark.parametrize("service", SERVICES)
async def test_the_service_serves_its_document(service: str) -> None:
    bootstrap = importlib.import_module(f"{registered()[service].package}.bootstrap")
    app = bootstrap.build_app(Settings(service=service, env="test"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.test") as client:
        served = await client.get("/asyncapi.yaml")
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("application/yaml")
        assert yaml.safe_load(served.text) == DOCS[service]
        assert (await client.get("/asyncapi.json")).json()["info"]["title"] == (
            f"Tsunagu {service} events"
        )


def _sent(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(topic, event type, example envelope) of every message ``doc`` says it publishes."""
    found = []
    for operation in doc["operations"].values():
        if operation["action"] != "send":
            continue
        channel = doc["channels"][operation["channel"]["$ref"].split("/")[-1]]
        for event_type in channel["messages"]:
            for example in doc["components"]["messages"][event_type]["examples"]:
                found.append((channel["address"], event_type, example["payload"]))
    return found


def _read_schema(doc: dict[str, Any], topic: str, event_type: str) -> dict[str, Any] | None:
    """The payload schema ``doc`` reads ``event_type`` on ``topic`` with, if it reads it."""
    for operation in doc["operations"].values():
        channel = doc["channels"][operation["channel"]["$ref"].split("/")[-1]]
        if (
            operation["action"] == "receive"
            and channel["address"] == topic
            and event_type in channel["messages"]
        ):
            payload: dict[str, Any] = doc["components"]["messages"][event_type]["payload"]
            return payload
    return None


CASES = [
    pytest.param(producer, topic, event_type, example, consumer, id=f"{event_type}->{consumer}")
    for producer in SERVICES
    for topic, event_type, example in _sent(DOCS[producer])
    for consumer in next(t.consumers for t in ALL_TOPICS if t.name == topic)
    if _read_schema(DOCS[consumer], topic, event_type) is not None
]


def test_every_consumer_reads_something_of_every_topic_it_subscribes_to() -> None:
    for topic in ALL_TOPICS:
        for consumer in topic.consumers:
            read = [e for e in topic.event_types if _read_schema(DOCS[consumer], topic.name, e)]
            assert read, f"{consumer} subscribes to {topic.name} but reads none of its events"


def test_there_are_contract_cases_for_every_service_that_publishes_to_a_reader() -> None:
    producers = {case.values[0] for case in CASES}
    assert producers == {"intake", "routing", "food_distribution"}  # notify's topic: no reader


@pytest.mark.parametrize(("producer", "topic", "event_type", "example", "consumer"), CASES)
def test_each_consumer_reads_each_documented_example(
    producer: str, topic: str, event_type: str, example: dict[str, Any], consumer: str
) -> None:
    doc = DOCS[consumer]
    schema = _read_schema(doc, topic, event_type)
    assert schema is not None
    registry = Registry().with_resource("urn:consumer", DRAFT202012.create_resource(doc))
    resolved = {"$ref": "urn:consumer#/components/messages/" + event_type + "/payload"}
    validator = jsonschema.Draft202012Validator(resolved, registry=registry)
    errors = [e.message for e in validator.iter_errors(example)]
    assert not errors, f"{consumer} cannot read {producer}'s {event_type}: {errors}"
    envelope = Envelope.model_validate(example)
    assert envelope.producer == producer
    parse(envelope, EVENT_MODELS[event_type])
