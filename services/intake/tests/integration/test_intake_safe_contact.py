"""Residents at risk at intake: the safe contact is asked for, travels, and is all notify gets."""

from __future__ import annotations

import pytest
from intake_helpers import App, case_body, eventually, open_as, read_topic, token

from tsunagu.shared.contracts.intake import CaseCreated, ConsentChanged
from tsunagu.shared.contracts.topics import INTAKE_CASE

pytestmark = pytest.mark.integration

HOME = "埼玉県川口市本町1-2-3"


def dv_body(**changes: object) -> dict:
    body = case_body(concerns=["dv_abuse", "income_shortfall"], **changes)
    body["consent"]["contact_channels"] = ["sms", "letter"]
    body["resident"]["address"] = HOME
    return body


async def events_of(app: App, case_id: str) -> list:
    async def sent() -> bool:
        return await app.runtime.relay.unsent_count() == 0

    await eventually(sent)
    return await read_topic(app.settings.kafka_bootstrap, INTAKE_CASE.name, key=case_id)


async def test_a_dv_case_needs_a_safe_contact_and_never_a_letter(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    missing = await intake_app.client.post("/api/v1/cases", json=dv_body(), headers=headers)
    assert missing.status_code == 422
    assert "safe_contact" in missing.text

    body = dv_body()
    body["consent"]["safe_contact"] = "letter"
    letter = await intake_app.client.post("/api/v1/cases", json=body, headers=headers)
    assert letter.status_code == 422
    assert "手紙は自宅に届くため" in letter.text


async def test_a_dv_case_without_a_safe_contact_hands_notify_no_address(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body = dv_body()
    body["consent"]["safe_contact"] = "none"
    response = await intake_app.client.post("/api/v1/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    case_id = response.json()["case_id"]

    [event] = await events_of(intake_app, case_id)
    data = CaseCreated.model_validate(event.data)
    assert data.consent.at_risk is True
    assert data.consent.safe_channel == "none"
    contact = await open_as(intake_app, "notify", data.contact_sealed or "")
    assert contact == {"name": "川口 花子", "name_kana": "かわぐち はなこ"}  # no address, no phone

    view = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=headers)).json()
    assert view["at_risk"] is True
    assert view["consent"]["safe_contact"] == "none"


async def test_a_safe_sms_hands_notify_the_phone_alone(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body = dv_body()
    body["consent"]["safe_contact"] = "sms"
    response = await intake_app.client.post("/api/v1/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    [event] = await events_of(intake_app, response.json()["case_id"])
    data = CaseCreated.model_validate(event.data)
    assert (data.consent.at_risk, data.consent.safe_channel) == (True, "sms")
    contact = await open_as(intake_app, "notify", data.contact_sealed or "")
    assert set(contact) == {"name", "name_kana", "phone"}
    assert HOME not in str(contact)


async def test_marking_a_case_sensitive_later_tells_notify(intake_app: App) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body = case_body()
    body["resident"]["email"] = "hanako@example.jp"
    created = (await intake_app.client.post("/api/v1/cases", json=body, headers=headers)).json()
    case_id = created["case_id"]
    url = f"/api/v1/cases/{case_id}/safe-contact"

    refused = await intake_app.client.post(url, json={"sensitive": True}, headers=headers)
    assert refused.status_code == 422  # at risk needs a safe contact (or "none")
    marked = await intake_app.client.post(
        url, json={"sensitive": True, "safe_contact": "email"}, headers=headers
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["at_risk"] is True

    events = await events_of(intake_app, case_id)
    assert [e.event_type for e in events] == ["case_created", "consent_changed"]
    change = ConsentChanged.model_validate(events[1].data)
    assert (change.consent.at_risk, change.consent.safe_channel) == (True, "email")
    contact = await open_as(intake_app, "notify", change.contact_sealed or "")
    assert set(contact) == {"name", "name_kana", "email"}

    # In Japanese whatever language an earlier test left in the shared client's cookies.
    page = await intake_app.client.get(f"/cases/{case_id}?lang=ja", headers=headers)
    assert "【要注意】" in page.text

    # Adding dv_abuse to a case not yet at risk tells notify too (no safe contact yet).
    other = (
        await intake_app.client.post("/api/v1/cases", json=case_body(), headers=headers)
    ).json()
    patched = await intake_app.client.patch(
        f"/api/v1/cases/{other['case_id']}",
        json={"concerns": ["income_shortfall", "dv_abuse"], "most_pressing": "income_shortfall"},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    events = await events_of(intake_app, other["case_id"])
    # Notify hears of the risk first (same partition: before routing's case_updated is used).
    assert [e.event_type for e in events] == ["case_created", "consent_changed", "case_updated"]
    change = ConsentChanged.model_validate(events[1].data)
    assert change.consent.at_risk is True and change.consent.safe_channel in (None, "none")
