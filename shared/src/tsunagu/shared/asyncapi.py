"""AsyncAPI 3.0 documents of the services' topics, built from the topic registry and the
event models, so that they cannot drift from the code.

Each service has a module ``tsunagu.<svc>.asyncapi`` with its ``document()`` (the event types it
handles), serves it at ``/asyncapi.yaml`` and commits a copy at ``services/<svc>/asyncapi.yaml``
(a test checks it). Every message carries a documented example (``contracts.examples``): the
consumer contract tests feed each example a producer documents to each consumer of its topic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import yaml
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.examples import EXAMPLES
from tsunagu.shared.contracts.personal_data import PERSONAL_DATA
from tsunagu.shared.contracts.registry import EVENT_MODELS, schema_version_of
from tsunagu.shared.contracts.topics import INTAKE_STAFF, Topic, consumed_by, produced_by

_EXAMPLE_ID = "0b6c3f8e-5d4a-4f2b-8e1c-9a7d6b5c4e3f"
_KAFKA_BINDING = "0.5.0"
_SCHEMAS = "#/components/schemas/"

ENVELOPE = """\
Every message is a JSON envelope (`event_id`, `event_type`, `schema_version`, `occurred_at`,
`producer`, `correlation_id`, `causation_id`, `data`) whose `data` is the event's model below.
The Kafka key is the case id (an event's id for `stock_low`), so the events of one case arrive in
order. Delivery is at least once: a subscriber de-duplicates by `event_id` (also in the `id`
header). Fields may be added within a topic version; a change an older reader cannot read
raises the producer's `schema_version`. Every message says, in `x-personal-data`, what
personal data it carries (each field: `pseudonymous`, `plain` — `special_care` marks
要配慮個人情報 — or `sealed` with the resident's key for one purpose) and why."""


def _channel_id(topic: Topic) -> str:
    return topic.name.replace(".", "_")


def _personal_data(event_type: str) -> dict[str, Any]:
    """What personal data the message carries, and why (``contracts.personal_data``)."""
    declared = PERSONAL_DATA[event_type]
    fields = []
    for c in declared.fields:
        field: dict[str, Any] = {"field": c.path, "what": c.what, "form": c.form}
        if c.special_care:
            field["special_care"] = True
        if c.purpose_key:
            field["opened_with"] = f"the resident's {c.purpose_key} key"
        fields.append(field)
    return {"purpose": declared.purpose, "fields": fields}


def _describe(personal: dict[str, Any]) -> str:
    lines = [f"Personal data: {personal['purpose']}"]
    for f in personal["fields"]:
        note = f["form"] + (", special care" if f.get("special_care") else "")
        note += f", {f['opened_with']}" if "opened_with" in f else ""
        lines.append(f"- `{f['field']}` ({note}): {f['what']}")
    return "\n".join(lines)


def _message(event_type: str, producer: str) -> dict[str, Any]:
    model = EVENT_MODELS[event_type]
    summary = (model.__doc__ or "").strip().splitlines()
    personal = _personal_data(event_type)
    return {
        "name": event_type,
        "title": model.__name__,
        **({"summary": summary[0]} if summary else {}),
        "description": _describe(personal),
        "x-personal-data": personal,
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "description": "The envelope's event_id."},
            },
        },
        "payload": {
            "allOf": [
                {"$ref": _SCHEMAS + "Envelope"},
                {
                    "type": "object",
                    "properties": {
                        "event_type": {"const": event_type},
                        "data": {"$ref": _SCHEMAS + model.__name__},
                    },
                },
            ]
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The case id."},
                "bindingVersion": _KAFKA_BINDING,
            }
        },
        "examples": [
            {
                "name": f"{event_type}_example",
                "headers": {"id": _EXAMPLE_ID},
                "payload": {
                    "event_id": _EXAMPLE_ID,
                    "event_type": event_type,
                    "schema_version": schema_version_of(event_type),
                    "occurred_at": "2026-06-01T10:30:00+09:00",
                    "producer": producer,
                    "correlation_id": "6f0e4d2c-7b1a-4e8f-9c3d-2a1b0c9d8e7f",
                    "causation_id": None,
                    "data": EXAMPLES[event_type],
                },
            }
        ],
    }


def _channel(topic: Topic, event_types: tuple[str, ...]) -> dict[str, Any]:
    description = topic.description
    if topic.external_readers:
        description += f" Read by: {', '.join(topic.external_readers)}."
    return {
        "address": topic.name,
        "description": description,
        "messages": {e: {"$ref": f"#/components/messages/{e}"} for e in event_types},
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "bindingVersion": _KAFKA_BINDING,
            }
        },
    }


def _operation(
    service: str, topic: Topic, action: str, event_types: tuple[str, ...]
) -> dict[str, Any]:
    channel = _channel_id(topic)
    verb = "publishes to" if action == "send" else "reads"
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": f"{service} {verb} {topic.name}.",
        "messages": [{"$ref": f"#/channels/{channel}/messages/{e}"} for e in event_types],
    }
    if action == "receive":
        operation["bindings"] = {
            "kafka": {
                "groupId": {"type": "string", "enum": list(topic.groups_of(service))},
                "bindingVersion": _KAFKA_BINDING,
            }
        }
    return operation


def document(service: str, handled: Iterable[str], description: str = "") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``service``: the topics it publishes (every event type)
    and those it reads (the event types in ``handled``; others there it skips), as plain data
    (deterministic: same code, same document)."""
    reads = set(handled)
    if service in INTAKE_STAFF.consumers:
        # Every service's runtime applies ended staff sign-ins (tsunagu.shared.revocation).
        reads |= set(INTAKE_STAFF.event_types)
    consumed = [(t, tuple(e for e in t.event_types if e in reads)) for t in consumed_by(service)]
    sides = [(t, "receive", events) for t, events in consumed if events]
    sides += [(t, "send", t.event_types) for t in produced_by(service)]
    producers = {e: t.producer for t, _, events in sides for e in events}

    event_types = list(dict.fromkeys(e for _, _, events in sides for e in events))
    models: list[type[BaseModel]] = [Envelope, *dict.fromkeys(EVENT_MODELS[e] for e in event_types)]
    _, definitions = models_json_schema(
        [(m, "validation") for m in models], ref_template=_SCHEMAS + "{model}"
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"Tsunagu {service} events",
            "version": "1.0.0",
            "description": (description + "\n\n" if description else "") + ENVELOPE,
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local launcher's broker.",
            }
        },
        "channels": {_channel_id(t): _channel(t, events) for t, _, events in sides},
        "operations": {
            f"{action}_{_channel_id(t)}": _operation(service, t, action, events)
            for t, action, events in sides
        },
        "components": {
            "messages": {e: _message(e, producers[e]) for e in event_types},
            "schemas": definitions["$defs"],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Writes multi-line text as a literal block, so the committed file reads like the code."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(doc: dict[str, Any]) -> str:
    return yaml.dump(
        doc,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )


def routes(document_of: Callable[[], dict[str, Any]]) -> APIRouter:
    """``GET /asyncapi.yaml`` and ``GET /asyncapi.json``: the service's document, built once."""
    router = APIRouter()
    built: dict[str, Any] = {}

    def doc() -> dict[str, Any]:
        if not built:
            built.update(document_of())
        return built

    @router.get("/asyncapi.yaml", include_in_schema=False)
    async def asyncapi_yaml() -> Response:
        return Response(to_yaml(doc()), media_type="application/yaml")

    @router.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json() -> Response:
        return JSONResponse(doc())

    return router
