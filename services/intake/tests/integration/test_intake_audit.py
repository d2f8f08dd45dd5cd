"""The auditor finds every view of a case, by whom and when; nobody else may search; the
hash chain shows an entry changed afterwards."""

from __future__ import annotations

import csv
import io

import pytest
from intake_helpers import App, case_body, case_routed, eventually, publish, todays_event, token
from sqlalchemy import text

from tsunagu.shared.contracts.topics import ROUTING_CASE

pytestmark = pytest.mark.integration


async def test_the_auditor_finds_every_view_of_a_case_and_the_chain_shows_tampering(
    intake_app: App,
) -> None:
    client = intake_app.client
    intake = await token(client, "uketsuke")
    created = (await client.post("/api/v1/cases", json=case_body(), headers=intake)).json()
    case_id = created["case_id"]
    routed = case_routed(case_id, created["case_number"], todays_event())
    await publish(intake_app.settings.kafka_bootstrap, ROUTING_CASE.name, case_id, routed)
    csw = await token(client, "csw_participation")

    async def shared() -> bool:
        return (await client.get(f"/api/v1/cases/{case_id}", headers=csw)).status_code == 200

    await eventually(shared)  # csw_participation opened the case (once at least)
    listed = await client.get("/api/v1/cases", headers=csw, params={"page_size": 100})
    assert case_id in {x["case_id"] for x in listed.json()["items"]}

    # Nobody but the auditor may search the audit.
    for who in ("uketsuke", "admin", "csw_participation", "food", "manager"):
        headers = await token(client, who)
        assert (await client.get("/api/v1/audit", headers=headers)).status_code == 403
        assert (await client.get("/api/v1/audit/verify", headers=headers)).status_code == 403

    auditor = await token(client, "auditor")
    found = await client.get("/api/v1/audit", headers=auditor, params={"case_id": case_id})
    assert found.status_code == 200, found.text
    entries = found.json()["items"]
    seen = {(e["actor"], e["action"]) for e in entries}
    assert ("uketsuke", "case.create") in seen
    assert ("csw_participation", "case.view") in seen
    assert ("csw_participation", "case.list") in seen  # the list that showed it names it
    assert all(e["at"] for e in entries)
    by_member = await client.get(
        "/api/v1/audit",
        headers=auditor,
        params={"case_id": case_id, "username": "csw_participation", "action": "case.view"},
    )
    assert {e["actor"] for e in by_member.json()["items"]} == {"csw_participation"}
    resident = (await client.get(f"/api/v1/cases/{case_id}", headers=intake)).json()
    by_resident = await client.get(
        "/api/v1/audit", headers=auditor, params={"resident_id": resident["resident_id"]}
    )
    assert ("csw_participation", "case.view") in {
        (e["actor"], e["action"]) for e in by_resident.json()["items"]
    }

    exported = await client.get(
        "/api/v1/audit", headers=auditor, params={"case_id": case_id, "format": "csv"}
    )
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert table[0][:4] == ["audit_id", "at", "actor", "action"]
    assert ("csw_participation", "case.view") in {(r[2], r[3]) for r in table[1:]}
    # What the entry recorded besides who and what: here the fields the sheet filled in.
    column = table[0].index("detail")
    [created_row] = [r for r in table[1:] if r[3] == "case.create"]
    assert "fields=" in created_row[column] and "resident.name" in created_row[column]
    page = await client.get(
        "/audit", headers={**auditor, "Accept": "text/html"}, params={"case_id": case_id}
    )
    assert page.status_code == 200
    assert "<th>詳細</th>" in page.text and created_row[column] in page.text

    # The chain holds; an entry changed behind the services' back breaks it.
    assert (await client.get("/api/v1/audit/verify", headers=auditor)).json()["intact"] is True
    view = next(e for e in entries if e["actor"] == "csw_participation")
    async with intake_app.runtime.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE intake.audit_log SET actor = 'someone_else' WHERE audit_id = :id"),
            {"id": view["audit_id"]},
        )
    verdict = (await client.get("/api/v1/audit/verify", headers=auditor)).json()
    assert verdict["intact"] is False
    assert {b["audit_id"] for b in verdict["broken"]} == {view["audit_id"]}
    async with intake_app.runtime.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE intake.audit_log SET actor = 'csw_participation' WHERE audit_id = :id"),
            {"id": view["audit_id"]},
        )
    assert (await client.get("/api/v1/audit/verify", headers=auditor)).json()["intact"] is True
