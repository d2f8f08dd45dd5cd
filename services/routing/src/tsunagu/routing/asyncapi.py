"""The AsyncAPI 3.0 document of routing's topics: what it publishes and what it reads.

Built from the topic registry and the pydantic models of the events, so it cannot drift from
the code. The programme teams subscribe to ``routing.programme.<programme>.v1``. A copy is
committed at services/routing/asyncapi.yaml (a test checks it); regenerate it with:

    uv run python -m tsunagu.routing.asyncapi > services/routing/asyncapi.yaml
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import EVENT_MODELS
from tsunagu.shared.contracts.topics import ROUTING, Topic, consumed_by, produced_by

#: The event types routing applies from the topics it reads (others there are skipped).
HANDLED: tuple[str, ...] = (
    intake.CASE_CREATED,
    intake.CONSENT_CHANGED,
    intake.REFERRAL_RESPONSE_SUBMITTED,
    intake.REFERRAL_REQUESTED,
)
_KAFKA_BINDING = "0.5.0"
_SCHEMAS = "#/components/schemas/"

DESCRIPTION = """\
Events routing publishes and reads. Every message is a JSON envelope (`event_id`, `event_type`,
`schema_version`, `occurred_at`, `producer`, `correlation_id`, `causation_id`, `data`) whose
`data` is the event's model below. The Kafka key is the case id, so the events of one case
arrive in order. Delivery is at least once: a subscriber de-duplicates by `event_id` (also in
the `id` header). Fields may be added within a topic version; nothing is removed or renamed.

Programme teams subscribe to `routing.programme.<programme>.v1` with a consumer group that
starts with their Kafka user (e.g. `team-life-independence`)."""


def _channel_id(topic: Topic) -> str:
    return topic.name.replace(".", "_")


def _message(event_type: str) -> dict[str, Any]:
    model = EVENT_MODELS[event_type]
    summary = (model.__doc__ or "").strip().splitlines()
    return {
        "name": event_type,
        "title": model.__name__,
        **({"summary": summary[0]} if summary else {}),
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


def _operation(topic: Topic, action: str, event_types: tuple[str, ...]) -> dict[str, Any]:
    channel = _channel_id(topic)
    verb = "Routing publishes to" if action == "send" else "Routing reads"
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": f"{verb} {topic.name}.",
        "messages": [{"$ref": f"#/channels/{channel}/messages/{e}"} for e in event_types],
    }
    if action == "receive":
        operation["bindings"] = {
            "kafka": {
                "groupId": {"type": "string", "enum": [ROUTING]},
                "bindingVersion": _KAFKA_BINDING,
            }
        }
    return operation


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document, as plain data (deterministic: same code, same document)."""
    published = produced_by(ROUTING)
    consumed = [(t, tuple(e for e in t.event_types if e in HANDLED)) for t in consumed_by(ROUTING)]
    sides = [(t, "receive", events) for t, events in consumed]
    sides += [(t, "send", t.event_types) for t in published]

    event_types = list(dict.fromkeys(e for _, _, events in sides for e in events))
    models: list[type[BaseModel]] = [Envelope, *dict.fromkeys(EVENT_MODELS[e] for e in event_types)]
    _, definitions = models_json_schema(
        [(m, "validation") for m in models], ref_template=_SCHEMAS + "{model}"
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tsunagu routing events",
            "version": "1.0.0",
            "description": DESCRIPTION,
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
            f"{action}_{_channel_id(t)}": _operation(t, action, events)
            for t, action, events in sides
        },
        "components": {
            "messages": {e: _message(e) for e in event_types},
            "schemas": definitions["$defs"],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Writes multi-line text as a literal block, so the committed file reads like the code."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(doc: dict[str, Any] | None = None) -> str:
    return yaml.dump(
        document() if doc is None else doc,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )


if __name__ == "__main__":
    sys.stdout.write(to_yaml())
