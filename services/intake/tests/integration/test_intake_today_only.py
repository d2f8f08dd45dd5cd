"""Cases are taken in only at today's events; an admin may allow another day, with a reason,
and both the leave and every case taken under it are in the audit log."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from intake_helpers import App, case_body, eventually, read_topic, today, token
from sqlalchemy import select
from test_intake_planning import csrf_of, event_at_new_venue

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.contracts.topics import INTAKE_CASE

pytestmark = pytest.mark.integration


async def _audit(app: App, **where: str) -> list[tuple[str, str, dict]]:
    a = tables.audit_log
    query = select(a.c.actor, a.c.action, a.c.detail).order_by(a.c.at)
    for column, value in where.items():
        query = query.where(a.c[column] == value)
    async with app.runtime.sessions() as session:
        return [(r.actor, r.action, r.detail) for r in await session.execute(query)]


async def test_a_case_at_next_weeks_event_is_refused_and_nothing_is_stored(
    intake_app: App,
) -> None:
    _, event_id = await event_at_new_venue(intake_app, today() + timedelta(days=7))
    body = case_body()
    body["event_id"] = event_id
    headers = await token(intake_app.client, "uketsuke")
    refused = await intake_app.client.post("/api/v1/cases", json=body, headers=headers)
    assert refused.status_code == 422, refused.text
    answer = refused.json()
    assert answer["code"] == "event_not_today"
    assert "本日ではないため受付できません" in answer["message"]
    assert answer["message_en"].isascii()
    [error] = answer["fields"]
    assert error["loc"] == ["body", "event_id"]
    assert error["type"] == "event_not_today"
    c = tables.case
    async with intake_app.runtime.sessions() as session:
        stored = await session.scalar(select(c.c.case_id).where(c.c.event_id == event_id))
    assert stored is None


async def test_the_form_offers_only_todays_events_and_says_why_another_is_refused(
    intake_app: App, admin: httpx.AsyncClient
) -> None:
    _, later = await event_at_new_venue(intake_app, today() + timedelta(days=3))
    _, now = await event_at_new_venue(intake_app, today())
    desk = await token(intake_app.client, "uketsuke")
    page = await intake_app.client.get("/cases/new", headers={**desk, "Accept": "text/html"})
    offered = set(re.findall(r'<option value="([^"]+)"', page.text))
    assert now in offered and later not in offered


async def test_an_admin_allows_another_day_with_a_reason_audited(
    intake_app: App, admin: httpx.AsyncClient
) -> None:
    yesterday = today() - timedelta(days=1)
    _, event_id = await event_at_new_venue(intake_app, yesterday)
    desk = await token(intake_app.client, "uketsuke")
    admin_token = await token(intake_app.client, "admin")
    path = f"/api/v1/events/{event_id}/late-intake"
    reason = {"reason": "通信障害のため紙の受付票で受け付けた分を入力"}

    # Intake staff may not give themselves leave; an empty reason is no reason.
    assert (await intake_app.client.put(path, json=reason, headers=desk)).status_code == 403
    empty = await intake_app.client.put(path, json={"reason": ""}, headers=admin_token)
    assert empty.status_code == 422

    allowed = await intake_app.client.put(path, json=reason, headers=admin_token)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["late_intake_reason"] == reason["reason"]
    page = await intake_app.client.get("/cases/new", headers={**desk, "Accept": "text/html"})
    assert f'<option value="{event_id}"' in page.text
    assert "日付外の受付・管理者が許可" in page.text

    body = case_body()
    body["event_id"] = event_id
    created = await intake_app.client.post("/api/v1/cases", json=body, headers=desk)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    assert [(a, act) for a, act, _ in await _audit(intake_app, target=event_id)] == [
        ("test", "event.create"),
        ("admin", "event.late_intake.allow"),
    ]
    [(actor, _, detail)] = await _audit(intake_app, case_id=case_id, action="case.create")
    assert (actor, detail["late_intake"]) == ("uketsuke", True)

    # The bus says the event's day, not the day it was typed in: the food desk files the case
    # under the event it belongs to.
    async def published() -> bool:
        return await intake_app.runtime.relay.unsent_count() == 0

    await eventually(published)
    bootstrap = intake_app.settings.kafka_bootstrap
    [created_event] = await read_topic(bootstrap, INTAKE_CASE.name, key=case_id)
    assert created_event.data["event_date"] == yesterday.isoformat()
    assert reason["reason"] not in str(await _audit(intake_app, target=event_id))

    # Taken back through the admin's page: refused again.
    plan = await admin.get(f"/admin/events/{event_id}")
    assert "許可を取り消す" in plan.text and reason["reason"] in plan.text
    ended = await admin.post(
        f"/admin/events/{event_id}/late-intake",
        data={"csrf_token": csrf_of(plan), "action": "end"},
    )
    assert ended.status_code == 303
    again = case_body()
    again["event_id"] = event_id
    refused = await intake_app.client.post("/api/v1/cases", json=again, headers=desk)
    assert refused.status_code == 422
    assert refused.json()["code"] == "event_not_today"
    assert (await _audit(intake_app, target=event_id))[-1][:2] == (
        "admin",
        "event.late_intake.end",
    )


async def test_the_admins_page_asks_for_a_reason(intake_app: App, admin: httpx.AsyncClient) -> None:
    _, event_id = await event_at_new_venue(intake_app, today() + timedelta(days=2))
    plan = await admin.get(f"/admin/events/{event_id}")
    assert "日付外の受付を許可" in plan.text
    blank = await admin.post(
        f"/admin/events/{event_id}/late-intake",
        data={"csrf_token": csrf_of(plan), "action": "allow", "reason": "  "},
    )
    assert blank.status_code == 422
    assert "日付外の受付を許可する理由を入力してください" in blank.text
