"""What intake puts on ``intake.case.v1`` for readers who must not see it: the resident's name,
furigana, phone and address never travel in the clear; each sealed field opens only for the one
service its purpose is for (ADR 12, ``contracts.personal_data``)."""

from __future__ import annotations

import pytest
from intake_helpers import App, case_body, eventually, open_as, read_topic, token

from tsunagu.shared.contracts.intake import CaseCreated
from tsunagu.shared.contracts.personal_data import PERSONAL_DATA
from tsunagu.shared.contracts.topics import INTAKE_CASE
from tsunagu.shared.crypto import ContactSealError
from tsunagu.shared.internal import KeyUnavailable

pytestmark = pytest.mark.integration


async def test_sealed_fields_open_only_for_their_reader_and_nothing_else_is_in_clear(
    intake_app: App,
) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body = case_body()
    body["resident"]["email"] = "hanako@example.org"
    created = await intake_app.client.post("/api/v1/cases", json=body, headers=headers)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]

    async def sent() -> bool:
        return await intake_app.runtime.relay.unsent_count() == 0

    await eventually(sent)
    [event] = await read_topic(intake_app.settings.kafka_bootstrap, INTAKE_CASE.name, key=case_id)
    on_the_wire = event.to_bytes().decode()
    resident = body["resident"]
    for value in ("name", "name_kana", "phone", "email", "address", "birth_date"):
        assert resident[value] not in on_the_wire, value
    assert body["notes"] not in on_the_wire  # staff's notes stay in intake

    data = CaseCreated.model_validate(event.data)
    assert data.contact_sealed and data.kana_sealed
    # notify opens the contact, food the furigana alone; neither opens the other's field.
    contact = await open_as(intake_app, "notify", data.contact_sealed)
    assert contact["name"] == resident["name"] and contact["phone"] == resident["phone"]
    assert await open_as(intake_app, "food_distribution", data.kana_sealed) == resident["name_kana"]
    for service, sealed in (
        ("food_distribution", data.contact_sealed),
        ("notify", data.kana_sealed),
        ("routing", data.contact_sealed),
        ("routing", data.kana_sealed),
    ):
        with pytest.raises((ContactSealError, KeyUnavailable)):
            await open_as(intake_app, service, sealed)

    # Every field of the event that is not a plain code or id is declared, with its form.
    declared = {c.path: c for c in PERSONAL_DATA[event.event_type].fields}
    assert declared["contact_sealed"].purpose_key == "contact"
    assert declared["kana_sealed"].purpose_key == "kana"
    assert declared["facts"].special_care and declared["facts"].form == "plain"
