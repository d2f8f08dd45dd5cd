"""A corrected case is routed again, across the real services: intake's PATCH publishes
``case_updated``, routing decides again and intake shows the new referrals."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from stack import Stack, wait_for

from tsunagu.shared.contracts.codes import Programme

pytestmark = pytest.mark.integration
VENUE = "correction-test"


def todays_event(stack: Stack) -> str:
    today = stack.today.isoformat()
    with stack.client("intake", "admin") as admin:
        made = admin.post(
            "/admin/venues", data={"venue_id": VENUE, "name": "訂正テスト会場", "address": "-"}
        )
        assert made.status_code == 303, made.text[:300]
        made = admin.post(
            "/admin/events",
            data={
                "venue_id": VENUE,
                "event_date": today,
                "opens_at": "00:00",
                "closes_at": "23:59",
                "programmes": [p.value for p in Programme],
            },
        )
        assert made.status_code in (303, 409), made.text[:300]
        events = admin.get(
            "/api/v1/events", params={"venue_id": VENUE, "from_date": today, "to_date": today}
        ).json()
    return str(events[0]["event_id"])


def body(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "resident": {
            "name": f"訂正 {uuid.uuid4().hex[:8]}",
            "name_kana": "ていせい はなこ",
            "birth_date": "1970-05-01",
            "sex": "female",
            "phone": f"090{10_000_000 + uuid.uuid4().int % 90_000_000}",
            "address": "埼玉県川口市本町1-2-3",
            "language": "ja",
            "lives_alone": False,
            "disability_certificate": False,
            "special_loan_borrower": False,
        },
        "concerns": ["income_shortfall"],
        "most_pressing": "income_shortfall",
        "urgent": {"no_food_today": False, "eviction_within_7_days": False},
        "consent": {
            "share_across_programmes": True,
            "basis": "consent",
            "contact_channels": ["phone"],
            "contact_time": "afternoon",
        },
        "notes": "",
    }


def test_adding_needs_to_a_case_brings_their_programmes_within_a_minute(stack: Stack) -> None:
    event_id = todays_event(stack)
    with stack.client("intake", "uketsuke") as intake:
        created = intake.post("/api/v1/cases", json=body(event_id))
        assert created.status_code == 201, created.text[:300]
        case_id = created.json()["case_id"]

        def referrals() -> dict[str, dict[str, Any]]:
            case = intake.get(f"/api/v1/cases/{case_id}").json()
            return {r["programme"]: r for r in case.get("referrals") or []}

        first = wait_for(referrals, timeout=60, what="first routing")
        assert set(first) == {"life_independence"}
        assert first["life_independence"]["allowed_actions"] == ["accept", "decline"]

        patched = intake.patch(
            f"/api/v1/cases/{case_id}",
            json={
                "concerns": ["income_shortfall", "disability", "dementia_money"],
                "most_pressing": "income_shortfall",
                "urgent": {"no_food_today": False, "eviction_within_7_days": False},
            },
        )
        assert patched.status_code == 200, patched.text[:300]
        assert patched.json()["changed"] is True
        started = time.monotonic()
        wanted = {"disability_support", "adult_guardianship"}

        def corrected() -> dict[str, dict[str, Any]] | None:
            now = referrals()
            return now if wanted <= set(now) else None

        now = wait_for(corrected, timeout=60, what="referrals after the correction")
        assert time.monotonic() - started < 60
        assert {p: r["status"] for p, r in now.items()} == {
            "csw_outreach": "pending",  # three programmes: compound, the coordinator leads
            "life_independence": "pending",
            "disability_support": "pending",
            "adult_guardianship": "pending",
        }
        assert now["csw_outreach"]["role"] == "coordinator"
        assert now["life_independence"]["role"] == "member"
        assert all(r["allowed_actions"] == ["accept", "decline"] for r in now.values())

    # The new programmes' teams see the case in their inboxes.
    with stack.client("intake", "disability_support") as team:
        case = team.get(f"/api/v1/cases/{case_id}")
        assert case.status_code == 200, case.text[:300]
