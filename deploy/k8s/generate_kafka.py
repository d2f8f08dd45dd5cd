"""Generate the Strimzi KafkaTopic and KafkaUser manifests (and compose's ACL script) from the
topic registry.

The registry (``tsunagu.shared.contracts.topics``) is the one source of truth for topics, who
writes them and who reads them. This script turns it into ``base/kafka/topics.yaml`` and
``base/kafka/users.yaml``; tests/deploy fails when the committed files differ from its output.

    uv run python deploy/k8s/generate_kafka.py          # rewrite the manifests
    uv run python deploy/k8s/generate_kafka.py --check  # exit 1 if they are out of date

Topics get the base (single broker) replication; overlays/prod raises every KafkaTopic to three
replicas and min.insync.replicas=2 with one patch, so nothing here depends on the environment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from tsunagu.shared.contracts.topics import (
    ALL_TOPICS,
    consumed_by,
    dlq_topics,
    partitions_of,
    produced_by,
)
from tsunagu.shared.services import names as service_names

#: The Strimzi ``Kafka`` resource every topic and user belongs to (base/kafka/kafka.yaml).
KAFKA_CLUSTER = "tsunagu"
#: The operators' user for ``tsunagu dlq list|replay``.
OPS_USER = "tsunagu-ops"

DAY_MS = 24 * 3600 * 1000
#: Events are kept a week: long enough to rebuild a consumer after an outage, short enough
#: that pseudonymous case data does not linger on the bus.
RETENTION_MS = 7 * DAY_MS
#: Dead letters wait a month for an operator to read and replay them.
DLQ_RETENTION_MS = 30 * DAY_MS

HERE = Path(__file__).resolve().parent
TOPICS_FILE = HERE / "base" / "kafka" / "topics.yaml"
USERS_FILE = HERE / "base" / "kafka" / "users.yaml"
#: The same ACLs for the compose deployment's broker, applied by its one-shot kafka-acls job.
COMPOSE_ACLS_FILE = HERE.parent / "compose" / "kafka-acls.sh"

HEADER = (
    "# GENERATED from tsunagu.shared.contracts.topics by deploy/k8s/generate_kafka.py.\n"
    "# Do not edit: change the registry, then run\n"
    "#   uv run python deploy/k8s/generate_kafka.py\n"
)


def k8s_name(name: str) -> str:
    """A Kafka name as a Kubernetes object name (DNS subdomain: no underscores)."""
    return name.lower().replace("_", "-")


def service_user(service: str) -> str:
    """The KafkaUser (and SCRAM principal) of a service."""
    return k8s_name(service)


def _labels() -> dict[str, str]:
    return {"strimzi.io/cluster": KAFKA_CLUSTER}


def topic(name: str) -> dict[str, Any]:
    dlq = name in dlq_topics()
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaTopic",
        "metadata": {"name": k8s_name(name), "labels": _labels()},
        "spec": {
            "topicName": name,
            "partitions": partitions_of(name),
            "replicas": 1,
            "config": {
                "cleanup.policy": "delete",
                "retention.ms": DLQ_RETENTION_MS if dlq else RETENTION_MS,
                "min.insync.replicas": 1,
            },
        },
    }


def acl(kind: str, name: str, operations: Iterable[str], pattern: str = "literal") -> dict:
    return {
        "type": "allow",
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": list(operations),
    }


def user(name: str, acls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        # Named in a label too, so that an upgrade can apply the users apart (deploy/README.md).
        "metadata": {"name": name, "labels": {**_labels(), "app.kubernetes.io/name": name}},
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": acls},
        },
    }


def service_acls(service: str) -> list[dict[str, Any]]:
    """Write its own topics and the DLQs of what it consumes; read what it consumes."""
    acls = [acl("topic", t.name, ["Describe", "Write"]) for t in produced_by(service)]
    for t in consumed_by(service):
        acls.append(acl("topic", t.name, ["Describe", "Read"]))
        acls.append(acl("topic", t.dlq, ["Describe", "Write"]))
    # Its consumer groups as the registry names them (the service name, intake's "-reports").
    groups = dict.fromkeys(g for t in consumed_by(service) for g in t.groups_of(service))
    acls += [acl("group", g, ["Read"]) for g in sorted(groups)]
    return acls


def external_readers() -> dict[str, list[str]]:
    """Each outside reader (a programme team) and the topics it may read."""
    readers: dict[str, list[str]] = {}
    for t in ALL_TOPICS:
        for reader in t.external_readers:
            readers.setdefault(reader, []).append(t.name)
    return readers


def reader_acls(reader: str, topics: list[str]) -> list[dict[str, Any]]:
    """Read its topics only, with consumer groups under its own prefix."""
    acls = [acl("topic", name, ["Describe", "Read"]) for name in topics]
    acls.append(acl("group", reader, ["Read"], pattern="prefix"))
    return acls


def ops_acls() -> list[dict[str, Any]]:
    """``tsunagu dlq list`` reads every DLQ (no group); ``replay`` writes back to its origin."""
    acls = []
    for dlq in dlq_topics():
        acls.append(acl("topic", dlq, ["Describe", "Read"]))
        acls.append(acl("topic", dlq.removesuffix(".dlq"), ["Describe", "Write"]))
    return acls


def topics() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for t in ALL_TOPICS:
        readers = ", ".join((*t.consumers, *t.external_readers)) or "no service"
        docs.append((f"{t.name}: written by {t.producer}, read by {readers}", topic(t.name)))
    for name in dlq_topics():
        docs.append((f"{name}: dead letters of {name.removesuffix('.dlq')}", topic(name)))
    return docs


def users() -> list[tuple[str, dict[str, Any]]]:
    docs = [(f"service {s}", user(service_user(s), service_acls(s))) for s in service_names()]
    for reader, names in external_readers().items():
        docs.append((f"programme team {reader}", user(reader, reader_acls(reader, names))))
    docs.append(("operators: list and replay dead letters", user(OPS_USER, ops_acls())))
    return docs


def render(docs: list[tuple[str, dict[str, Any]]]) -> str:
    parts = [HEADER]
    for comment, doc in docs:
        body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=100)
        parts.append(f"---\n# {comment}\n{body}")
    return "".join(parts)


def compose_acls() -> str:
    """kafka-acls.sh commands granting each service what its KafkaUser has on Kubernetes."""
    lines = [
        "#!/bin/sh",
        HEADER.replace("KafkaTopic", "").rstrip("\n"),
        "# Run by compose's kafka-acls job as the broker's administrator; --add is idempotent.",
        "set -eu",
        'acls="/opt/kafka/bin/kafka-acls.sh --bootstrap-server kafka:9092 '
        '--command-config /run/secrets/kafka_admin.properties"',
    ]
    for service in service_names():
        principal = f"User:{service_user(service)}"
        for rule in service_acls(service):
            resource = rule["resource"]
            kind = {"topic": "--topic", "group": "--group"}[resource["type"]]
            operations = " ".join(f"--operation {op}" for op in rule["operations"])
            pattern = (
                " --resource-pattern-type prefixed" if resource["patternType"] == "prefix" else ""
            )
            lines.append(
                f'$acls --add --allow-principal {principal} {operations} {kind} "{resource["name"]}"'
                f"{pattern} >/dev/null"
            )
    lines.append('echo "ACLs applied"')
    return "\n".join(lines) + "\n"


def outputs() -> dict[Path, str]:
    return {
        TOPICS_FILE: render(topics()),
        USERS_FILE: render(users()),
        COMPOSE_ACLS_FILE: compose_acls(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent.parent)}")
    if stale:
        names = ", ".join(str(p.relative_to(HERE.parent.parent)) for p in stale)
        print(
            f"out of date: {names}; run: uv run python deploy/k8s/generate_kafka.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
