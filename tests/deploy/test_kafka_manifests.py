"""The Strimzi topics and users are the topic registry, and grant no more than it says."""

from __future__ import annotations

from typing import Any

from tsunagu.shared.contracts.codes import Programme
from tsunagu.shared.contracts.topics import (
    ALL_TOPICS,
    FOOD,
    FOOD_DISTRIBUTION,
    INTAKE_CASE,
    INTAKE_CONTACT,
    INTAKE_STAFF,
    NOTIFY,
    PROGRAMME_TOPICS,
    ROUTING_CASE,
    ROUTING_FOOD,
    ROUTING_NOTIFY,
    all_topic_names,
    consumed_by,
    partitions_of,
    produced_by,
    programme_team_user,
    programme_topic_name,
)
from tsunagu.shared.services import names

SERVICES = names()


def test_committed_manifests_are_what_the_generator_writes(generator):
    stale = [
        str(path.relative_to(generator.HERE))
        for path, text in generator.outputs().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, (
        f"{stale} differ from the topic registry: run uv run python deploy/k8s/generate_kafka.py"
    )


def test_check_mode_passes_on_the_committed_files(generator):
    assert generator.main(["--check"]) == 0


def _topics(rendered, overlay: str) -> dict[str, dict[str, Any]]:
    return {t["spec"]["topicName"]: t for t in rendered[overlay] if t["kind"] == "KafkaTopic"}


def test_every_registry_topic_and_dlq_is_a_kafka_topic(rendered):
    for overlay in rendered:
        topics = _topics(rendered, overlay)
        assert sorted(topics) == sorted(all_topic_names())
        for name, topic in topics.items():
            assert topic["spec"]["partitions"] == partitions_of(name)
            assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "tsunagu"


def test_prod_topics_have_three_replicas_and_two_in_sync(rendered):
    for name, topic in _topics(rendered, "prod").items():
        assert topic["spec"]["replicas"] == 3, name
        assert int(topic["spec"]["config"]["min.insync.replicas"]) == 2, name
    kafka = next(o for o in rendered["prod"] if o["kind"] == "Kafka")
    config = kafka["spec"]["kafka"]["config"]
    assert int(config["default.replication.factor"]) == 3
    assert int(config["min.insync.replicas"]) == 2
    assert int(config["offsets.topic.replication.factor"]) == 3
    assert int(config["transaction.state.log.min.isr"]) == 2
    pool = next(o for o in rendered["prod"] if o["kind"] == "KafkaNodePool")
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}


def test_dev_is_a_single_node(rendered):
    pool = next(o for o in rendered["dev"] if o["kind"] == "KafkaNodePool")
    assert pool["spec"]["replicas"] == 1
    for name, topic in _topics(rendered, "dev").items():
        assert topic["spec"]["replicas"] == 1, name


def _grants(user: dict[str, Any]) -> dict[tuple[str, str, str], set[str]]:
    """{(resource type, name, pattern): operations} of a KafkaUser."""
    grants: dict[tuple[str, str, str], set[str]] = {}
    for acl in user["spec"]["authorization"]["acls"]:
        assert acl.get("type", "allow") == "allow"
        r = acl["resource"]
        key = (r["type"], r["name"], r.get("patternType", "literal"))
        grants.setdefault(key, set()).update(acl["operations"])
    return grants


def _topics_with(grants, operation: str) -> set[str]:
    return {
        name
        for (kind, name, pattern), ops in grants.items()
        if kind == "topic" and operation in ops and pattern == "literal"
    }


def _users(rendered) -> dict[str, dict[str, Any]]:
    return {u["metadata"]["name"]: u for u in rendered["prod"] if u["kind"] == "KafkaUser"}


def test_each_service_writes_its_own_topics_and_the_dlqs_of_what_it_consumes(rendered, generator):
    users = _users(rendered)
    for service in SERVICES:
        user = users[generator.service_user(service)]
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        grants = _grants(user)
        assert all(pattern == "literal" for _, _, pattern in grants), service
        consumed = {t.name for t in consumed_by(service)}
        assert _topics_with(grants, "Write") == {t.name for t in produced_by(service)} | {
            t.dlq for t in consumed_by(service)
        }
        assert _topics_with(grants, "Read") == consumed
        groups = {name: ops for (kind, name, _), ops in grants.items() if kind == "group"}
        # Exactly the consumer groups the registry names for the service (intake has two).
        named = {g for t in consumed_by(service) for g in t.groups_of(service)}
        assert groups == {g: {"Read"} for g in named}
        assert (service in groups) == bool(consumed)
        assert not any(kind in ("cluster", "transactionalId") for kind, _, _ in grants)
        assert not any({"All", "Alter", "Delete", "Create"} & ops for ops in grants.values())


def test_the_food_desk_is_granted_no_topic_that_carries_a_cases_concerns(rendered, generator):
    """ADR 24: the food desk learns each case from routing's topic for it; the topics with the
    case's facts, consent and routing's reasons are not granted to its Kafka user at all."""
    grants = _grants(_users(rendered)[generator.service_user(FOOD_DISTRIBUTION)])
    readable = {name for (kind, name, _), ops in grants.items() if kind == "topic" and ops}
    assert _topics_with(grants, "Read") == {ROUTING_FOOD.name, INTAKE_STAFF.name}
    assert not readable & {INTAKE_CASE.name, ROUTING_CASE.name}
    assert not readable & {INTAKE_CASE.dlq, ROUTING_CASE.dlq}


def test_notify_is_granted_no_topic_that_carries_a_cases_facts_or_routings_reasons(
    rendered, generator
):
    """ADR 25: notify reads intake's and routing's topics for it (sealed contact, consent,
    decisions without reasons); the case topics are not granted to its Kafka user at all."""
    user = _users(rendered)[generator.service_user(NOTIFY)]
    grants = _grants(user)
    readable = {name for (kind, name, _), ops in grants.items() if kind == "topic" and ops}
    assert _topics_with(grants, "Read") == {
        INTAKE_CONTACT.name, ROUTING_NOTIFY.name, INTAKE_STAFF.name, FOOD.name,
        *(t.name for t in PROGRAMME_TOPICS.values()),
    }  # fmt: skip
    assert not readable & {INTAKE_CASE.name, ROUTING_CASE.name}
    assert not readable & {INTAKE_CASE.dlq, ROUTING_CASE.dlq}
    # Labelled with its name, so that an upgrade can apply it after the other users.
    assert user["metadata"]["labels"]["app.kubernetes.io/name"] == "notify"


def test_each_programme_team_reads_only_its_own_programme_topic(rendered):
    users = _users(rendered)
    for programme in Programme:
        team = programme_team_user(programme)
        grants = _grants(users[team])
        assert grants == {
            ("topic", programme_topic_name(programme), "literal"): {"Describe", "Read"},
            ("group", team, "prefix"): {"Read"},
        }


def test_no_user_beyond_services_teams_and_operators(rendered, generator):
    expected = {generator.service_user(s) for s in SERVICES}
    expected |= {r for t in ALL_TOPICS for r in t.external_readers}
    expected.add(generator.OPS_USER)
    assert set(_users(rendered)) == expected


def test_operators_read_dlqs_and_write_only_their_origins(rendered, generator):
    grants = _grants(_users(rendered)[generator.OPS_USER])
    dlqs = {t.dlq for t in ALL_TOPICS if t.consumers}
    assert _topics_with(grants, "Read") == dlqs
    assert _topics_with(grants, "Write") == {d.removesuffix(".dlq") for d in dlqs}
    assert not any(kind == "group" for kind, _, _ in grants)
