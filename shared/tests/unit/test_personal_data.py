"""Every event declares what personal data it carries and why, truthfully (the AsyncAPI
documents publish it as ``x-personal-data``)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tsunagu.shared.asyncapi import document
from tsunagu.shared.contracts.personal_data import PERSONAL_DATA, special_care_fields
from tsunagu.shared.contracts.registry import EVENT_MODELS
from tsunagu.shared.contracts.topics import ALL_TOPICS
from tsunagu.shared.crypto import Purpose


def test_every_event_type_is_declared_and_nothing_else() -> None:
    assert set(PERSONAL_DATA) == set(EVENT_MODELS)
    for event_type, declared in PERSONAL_DATA.items():
        assert declared.purpose.strip(), event_type


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_declared_fields_exist_and_every_sealed_field_is_declared(event_type: str) -> None:
    model: type[BaseModel] = EVENT_MODELS[event_type]
    declared = {c.path: c for c in PERSONAL_DATA[event_type].fields}
    for path in declared:
        assert path.split(".")[0] in model.model_fields, f"{event_type}.{path} does not exist"
    for name in model.model_fields:
        if name.endswith("_sealed"):
            carried = declared.get(name)
            assert carried is not None, f"{event_type}.{name} is sealed but undeclared"
            assert carried.form == "sealed" and Purpose(carried.purpose_key or "")
    for carried in declared.values():
        assert (carried.form == "sealed") == (carried.purpose_key is not None)
        assert not (carried.special_care and carried.form == "pseudonymous")


def test_the_special_care_facts_are_declared_where_they_travel_in_the_clear() -> None:
    assert "facts" in special_care_fields("case_created")
    assert "facts" in special_care_fields("case_updated")
    assert "concerns" in special_care_fields("referral_created")
    assert special_care_fields("eligibility_granted") == ()  # food publishes no concern
    assert special_care_fields("delivery_attempted") == ()


@pytest.mark.parametrize("service", ["intake", "routing", "notify", "food_distribution"])
def test_every_message_of_every_document_says_what_and_why(service: str) -> None:
    handled = {e for t in ALL_TOPICS for e in t.event_types}
    messages = document(service, handled)["components"]["messages"]
    assert messages
    for name, message in messages.items():
        personal = message["x-personal-data"]
        assert personal["purpose"] == PERSONAL_DATA[name].purpose
        assert [f["field"] for f in personal["fields"]] == [
            c.path for c in PERSONAL_DATA[name].fields
        ]
        assert message["description"].startswith("Personal data: ")
