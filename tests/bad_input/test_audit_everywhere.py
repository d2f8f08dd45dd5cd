"""The auditor's one search finds every view of a case, in whichever service it happened
(ADR 13): notify's letters and food's desk search keep their own audit, and intake gathers it."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from badinput_support import (
    AUDITOR,
    case_body,
    ensure_auditor,
    ensure_event,
    known_to_food,
    take_in,
    token,
)
from stack import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_the_auditor_finds_a_letter_opened_in_notify_and_a_food_search_by_case_id(stack) -> None:
    admin = stack.client("intake", "admin")
    event_id = ensure_event(stack, admin)
    ensure_auditor(admin)
    intake = stack.client("intake", "uketsuke")
    body = case_body(event_id, ["income_shortfall", "isolation"])
    body["consent"] |= {"contact_channels": ["letter"], "contact_time": "any"}
    case = take_in(intake, body, {"life_independence"})

    [letter] = wait_for(
        lambda: stack.query("SELECT id FROM notify.letter WHERE case_id = $1", case.case_id),
        timeout=90,
        what="a letter to the resident",
    )
    notify = stack.client("notify", "uketsuke")
    opened = notify.get(f"/letters/{letter['id']}")
    assert opened.status_code == 200 and body["resident"]["name"] in opened.text

    food = stack.client("food_distribution", "food")
    known_to_food(food, case.case_id)
    found = food.get("/api/v1/cases", params={"event_id": event_id, "q": case.case_number})
    assert [h["case_id"] for h in found.json()] == [case.case_id]

    auditor = httpx.Client(
        base_url=stack.url("intake"),
        headers={"Authorization": f"Bearer {token(stack, AUDITOR)}"},
        timeout=30,
    )
    answer = auditor.get("/api/v1/audit", params={"case_id": case.case_id})
    assert answer.status_code == 200, answer.text
    assert answer.json()["unreachable"] == []
    seen = {(e["service"], e["actor"], e["action"]) for e in answer.json()["items"]}
    assert ("notify", "uketsuke", "notify.letter_view") in seen
    assert ("food_distribution", "food", "food.search") in seen
    assert any(service == "intake" for service, _, _ in seen)  # intake's own, as before
    # Narrowed by staff member and action, and as CSV with the service named.
    only = auditor.get(
        "/api/v1/audit",
        params={"case_id": case.case_id, "username": "uketsuke", "action": "notify.letter_view"},
    ).json()["items"]
    assert [(e["service"], e["case_id"]) for e in only] == [("notify", case.case_id)]
    exported = auditor.get(
        "/api/v1/audit", params={"case_id": case.case_id, "format": "csv"}
    ).content.decode("utf-8-sig")
    assert any(
        line.startswith(str(only[0]["audit_id"]) + ",") and line.endswith(",notify")
        for line in exported.splitlines()
    )
    # The page shows the same entries; intake staff get 403 on the audit.
    page = auditor.get("/audit", params={"case_id": case.case_id})
    assert page.status_code == 200 and "notify.letter_view" in page.text
    assert intake.get("/api/v1/audit", params={"case_id": case.case_id}).status_code == 403
