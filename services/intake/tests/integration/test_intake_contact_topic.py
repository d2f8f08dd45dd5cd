"""Notify's own topic, ``intake.contact.v1`` (ADR 25): every case event notify needs is followed
in intake's outbox, in the same transaction, by its twin with only the sealed contact and the
consent's codes; nothing of the case's facts."""

from __future__ import annotations

from typing import Any

import pytest
from intake_helpers import App, case_body, eventually, open_as, read_topic, token
from sqlalchemy import select

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.auth import Principal, issue_token
from tsunagu.shared.contracts.personal_data import PERSONAL_DATA
from tsunagu.shared.contracts.topics import INTAKE_CASE, INTAKE_CONTACT
from tsunagu.shared.crypto import ContactSealError
from tsunagu.shared.internal import KeyUnavailable

pytestmark = pytest.mark.integration


def officer(app: App) -> dict[str, str]:
    principal = Principal(username="kojin", roles=frozenset({"privacy_officer"}))
    return {"Authorization": f"Bearer {issue_token(principal, app.settings.signing_key(), 600)}"}


async def outbox_rows(app: App, case_id: str) -> list[Any]:
    o = tables.outbox
    async with app.runtime.sessions() as session:
        rows = await session.execute(select(o).where(o.c.aggregateid == case_id).order_by(o.c.seq))
    return list(rows)


async def test_each_case_event_notify_needs_has_its_twin_on_notifys_topic(
    intake_app: App,
) -> None:
    client = intake_app.client
    uketsuke = await token(client, "uketsuke")
    body = case_body(
        resident__email="yoshiko@example.org",
        resident__disability_certificate=True,
        consent__contact_channels=["email"],
    )
    body["concerns"] = ["debt_arrears", "disability"]
    body["most_pressing"] = "debt_arrears"
    created = await client.post("/api/v1/cases", json=body, headers=uketsuke)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    [_, contact_row] = await outbox_rows(intake_app, case_id)
    sealed = contact_row.payload["data"]["contact_sealed"]
    # The contact opens for notify alone.
    contact = await open_as(intake_app, "notify", sealed)
    assert contact["email"] == "yoshiko@example.org"
    with pytest.raises((ContactSealError, KeyUnavailable)):
        await open_as(intake_app, "routing", sealed)

    url = f"/api/v1/cases/{case_id}/consent"
    withdrawal = {"action": "withdraw", "confirmation": True}
    assert (await client.post(url, json=withdrawal, headers=uketsuke)).status_code == 200
    async with intake_app.runtime.sessions() as session:
        resident_id = await session.scalar(
            select(tables.case.c.resident_id).where(tables.case.c.case_id == case_id)
        )
    erased = await client.post(
        f"/api/v1/residents/{resident_id}/erasure", json={"reason": "本人からの消去請求"},
        headers=officer(intake_app),
    )  # fmt: skip
    assert erased.status_code == 200, erased.text

    rows = await outbox_rows(intake_app, case_id)
    assert [(r.topic, r.type) for r in rows] == [
        (INTAKE_CASE.name, "case_created"),
        (INTAKE_CONTACT.name, "contact_case_created"),
        (INTAKE_CASE.name, "consent_changed"),
        (INTAKE_CONTACT.name, "contact_consent_changed"),
        (INTAKE_CASE.name, "resident_erased"),
        (INTAKE_CONTACT.name, "resident_erased"),
    ]
    for original, twin in zip(rows[::2], rows[1::2], strict=True):
        # Written in the one transaction (the same now()), right after the event it tells.
        assert twin.created_at == original.created_at and twin.seq == original.seq + 1
        assert twin.payload["causation_id"] == original.id
        assert twin.payload["occurred_at"] == original.payload["occurred_at"]
        assert twin.aggregateid == case_id and twin.id != original.id
        declared = {c.path for c in PERSONAL_DATA[twin.type].fields}
        assert set(twin.payload["data"]) - declared <= {
            "created_at", "previous_basis", "confirmation_requested", "erased_at", "basis",
        }  # fmt: skip
        text = str(twin.payload)
        for secret in ("debt_arrears", "disability", "facts", "kana_sealed", "1948", "changed_by"):
            assert secret not in text, (twin.type, secret)
    consent = rows[3].payload["data"]
    assert consent["consent"]["basis"] == "none" and consent["confirmation_requested"] is True
    assert consent["consent"]["contact_channels"] == ["email"]

    async def published() -> bool:
        if await intake_app.runtime.relay.unsent_count():
            return False
        told = await read_topic(intake_app.settings.kafka_bootstrap, INTAKE_CONTACT.name, case_id)
        return [e.event_type for e in told] == [r.type for r in rows[1::2]]

    await eventually(published)
