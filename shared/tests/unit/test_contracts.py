"""The contracts: envelope, topic registry, codes."""

import pytest
from pydantic import ValidationError
from sqlalchemy import MetaData

from tsunagu.shared import services
from tsunagu.shared.contracts import intake, routing, topics
from tsunagu.shared.contracts.codes import Concern, Programme
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.examples import EXAMPLES
from tsunagu.shared.contracts.intake import CaseFacts
from tsunagu.shared.contracts.registry import EVENT_MODELS
from tsunagu.shared.outbox import OutboxWriter, outbox_table


def test_envelope_round_trips_and_ignores_fields_it_does_not_know():
    env = Envelope(event_type="case_created", producer="intake", data={"case_id": "c1"})
    raw = env.to_bytes()
    assert Envelope.from_bytes(raw) == env
    newer = raw.replace(b'"data"', b'"trace":"x","data"')
    assert Envelope.from_bytes(newer).event_id == env.event_id


def test_envelope_requires_its_fields():
    with pytest.raises(ValidationError):
        Envelope.from_bytes(b'{"event_type": "x"}')


def test_every_programme_has_its_own_topic_and_team_reader():
    names = {t.name for t in topics.PROGRAMME_TOPICS.values()}
    assert names == {f"routing.programme.{p.value}.v1" for p in Programme}
    assert topics.PROGRAMME_TOPICS[Programme.CSW_OUTREACH].external_readers == (
        "team-csw-outreach",
    )


def test_every_consumed_topic_has_a_dlq_and_registry_names_are_unique():
    names = topics.all_topic_names()
    assert len(names) == len(set(names))
    for topic in topics.ALL_TOPICS:
        assert (topic.dlq in names) == bool(topic.consumers)
    assert topics.partitions_of("intake.case.v1") == topics.DEFAULT_PARTITIONS
    assert topics.partitions_of("intake.case.v1.dlq") == topics.DLQ_PARTITIONS


def test_each_service_reads_and_writes_what_the_architecture_says():
    assert [t.name for t in topics.consumed_by(topics.ROUTING)] == [
        "intake.case.v1",
        "intake.referral_response.v1",
        "intake.staff.v1",
    ]
    # Food learns each case, and rule 9's decision, from routing's topic for it (ADR 24): never
    # a topic that carries the case's concerns, reasons, age or flags.
    assert [t.name for t in topics.consumed_by(topics.FOOD_DISTRIBUTION)] == [
        "intake.staff.v1",
        "routing.food.v1",
    ]
    for topic in (topics.INTAKE_CASE, topics.ROUTING_CASE):
        assert topics.FOOD_DISTRIBUTION not in topic.consumers
        assert not topic.groups_of(topics.FOOD_DISTRIBUTION)
    assert topics.ROUTING_FOOD.consumers == (topics.FOOD_DISTRIBUTION,)
    # Notify learns each case's contact and consent from intake's topic for it, and routing's
    # decisions without reasons from routing's (ADR 25); no topic with the facts or reasons.
    assert [t.name for t in topics.consumed_by(topics.NOTIFY)] == [
        "intake.contact.v1",
        "intake.staff.v1",
        "routing.notify.v1",
        *(t.name for t in topics.PROGRAMME_TOPICS.values()),
        "food.v1",
    ]
    for topic in (topics.INTAKE_CASE, topics.ROUTING_CASE):
        assert topics.NOTIFY not in topic.consumers
        assert not topic.groups_of(topics.NOTIFY)
    assert topics.INTAKE_CONTACT.consumers == topics.ROUTING_NOTIFY.consumers == (topics.NOTIFY,)
    # Ended sign-ins reach every service that checks staff tokens but does not issue them.
    assert set(topics.INTAKE_STAFF.consumers) == set(services.names()) - {topics.INTAKE}
    assert {t.producer for t in topics.ALL_TOPICS} == set(services.names())


def test_every_event_type_in_the_registry_has_a_data_model():
    declared = {e for t in topics.ALL_TOPICS for e in t.event_types}
    assert declared <= set(EVENT_MODELS)


def test_case_facts_refuse_unknown_concern_codes():
    assert CaseFacts(concerns=["isolation"]).concerns == [Concern.ISOLATION]
    with pytest.raises(ValidationError):
        CaseFacts(concerns=["flying"])


def test_every_event_type_has_a_documented_example():
    """Each service's AsyncAPI document shows one, and the consumer contract tests feed it to
    every consumer: add an example to contracts/examples.py with a new event type."""
    from tsunagu.shared.contracts.examples import EXAMPLES

    assert set(EXAMPLES) == set(EVENT_MODELS)


@pytest.mark.parametrize(
    ("original", "twin_topic", "twins"),
    [
        (topics.INTAKE_CASE, topics.INTAKE_CONTACT, intake.CONTACT_TWINS),
        (topics.ROUTING_CASE, topics.ROUTING_NOTIFY, routing.NOTIFY_TWINS),
    ],
)
def test_each_twin_is_its_original_in_fewer_words(original, twin_topic, twins):
    """ADR 25: every event type of notify's topics is the twin of one on a case topic; its
    fields are the original's by the same names, so the original's data reads as the twin and
    notify's handlers read both. No fact, concern or reason is among them."""
    assert set(twins) <= set(original.event_types)
    assert {told for told, _ in twins.values()} == set(twin_topic.event_types)
    for event_type, (told, model) in twins.items():
        assert EVENT_MODELS[told] is model
        original_fields = EVENT_MODELS[event_type].model_fields
        assert set(model.model_fields) <= set(original_fields), told
        assert not {"facts", "reasons", "external", "concerns", "kana_sealed"} & set(
            model.model_fields
        )
        example = EXAMPLES[event_type]
        for name, value in model.model_validate(example).model_dump(mode="json").items():
            if name == "referrals":  # each referral without its reasons
                assert all(
                    t.items() <= o.items() for t, o in zip(value, example[name], strict=True)
                )
            else:
                assert value == example[name], (told, name)


def test_a_twin_envelope_names_its_original_and_keeps_its_time():
    writer = OutboxWriter(outbox_table(MetaData(schema="intake")), "intake")
    original = writer.envelope(intake.CASE_CREATED, EXAMPLES[intake.CASE_CREATED])
    twin = writer.twin(original, intake.CONTACT_CASE_CREATED, {"case_id": "c"})
    assert twin.event_id != original.event_id
    assert twin.causation_id == original.event_id
    assert (twin.occurred_at, twin.correlation_id) == (
        original.occurred_at,
        original.correlation_id,
    )
    assert (twin.event_type, twin.producer, twin.data) == (
        intake.CONTACT_CASE_CREATED, "intake", {"case_id": "c"},
    )  # fmt: skip
