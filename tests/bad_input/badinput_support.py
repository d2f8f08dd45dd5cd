"""What the bad-input tests need in the running stack, made through the services' own APIs: a
venue and today's event of their own (so their cases stay off the demo venues' boards and desks),
cases whose referrals are known, an auditor account, and one token per staff member."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from stack import DEMO_PASSWORD, Stack, otp_for, wait_for

from tsunagu.shared.contracts.codes import Programme

VENUE = "bad-input"
AUDITOR = "bad_input_auditor"
PROGRAMMES = [p.value for p in Programme]


def token(stack: Stack, username: str) -> str:
    data = {"username": username, "password": DEMO_PASSWORD}
    otp = otp_for(username)
    if otp is not None:
        data["otp"] = otp
    response = httpx.post(stack.url("intake") + "/api/v1/auth/token", data=data, timeout=30)
    assert response.status_code == 200, f"no token for {username}: {response.text[:300]}"
    return str(response.json()["access_token"])


def ensure_event(stack: Stack, admin: httpx.Client) -> str:
    """The bad-input venue and today's event there (created once; later calls find them)."""
    response = admin.post(
        "/admin/venues",
        data={"venue_id": VENUE, "name": "不正入力テスト会場", "address": "テスト用"},
    )
    assert response.status_code == 303, response.text[:300]
    today = stack.today.isoformat()
    response = admin.post(
        "/admin/events",
        data={
            "venue_id": VENUE,
            "event_date": today,
            "opens_at": "00:00",
            "closes_at": "23:59",
            "programmes": PROGRAMMES,
        },
    )
    assert response.status_code in (303, 409), response.text[:300]  # 409: made earlier
    events = admin.get(
        "/api/v1/events", params={"venue_id": VENUE, "from_date": today, "to_date": today}
    ).json()
    assert len(events) == 1, events
    return str(events[0]["event_id"])


def ensure_auditor(admin: httpx.Client) -> None:
    """The demo data has no auditor: the admin creates one, as an admin would; the auditor
    then replaces the password the admin chose, as the first sign-in demands."""
    first = "first-" + DEMO_PASSWORD
    response = admin.post(
        "/admin/staff",
        data={"username": AUDITOR, "display_name": "監査 担当", "roles": ["auditor"],
              "password": first},
    )  # fmt: skip
    assert response.status_code in (303, 409), response.text[:300]  # 409: made earlier
    if response.status_code == 303:
        change_first_password(str(admin.base_url), AUDITOR, first, DEMO_PASSWORD)


def change_first_password(intake_url: str, username: str, first: str, new: str) -> str:
    """Sign in with the password an admin set and change it; returns the full token."""
    response = httpx.post(
        intake_url + "/api/v1/auth/token", data={"username": username, "password": first}
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["pending"] == "password_change"
    changed = httpx.post(
        intake_url + "/api/v1/auth/password",
        json={"current_password": first, "new_password": new},
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
    )
    assert changed.status_code == 200, changed.text[:300]
    assert changed.json()["pending"] is None
    return str(changed.json()["access_token"])


def case_body(
    event_id: str,
    concerns: list[str],
    *,
    share: bool = True,
    basis: str = "consent",
    birth_date: str = "1948-05-01",
) -> dict[str, Any]:
    """A resident as intake staff would take them in; names differ so no two look alike."""
    tag = uuid.uuid4().hex[:8]
    return {
        "event_id": event_id,
        "resident": {
            "name": f"不正入力 {tag}",
            "name_kana": "ふせい にゅうりょく",
            "birth_date": birth_date,
            "sex": "female",
            "phone": f"090{10_000_000 + uuid.uuid4().int % 90_000_000:08d}",
            "email": None,
            "address": "埼玉県川口市本町1-2-3",
            "language": "ja",
            "lives_alone": True,
            "disability_certificate": False,
            "special_loan_borrower": False,
        },
        "concerns": concerns,
        "most_pressing": concerns[0],
        "urgent": {"no_food_today": False, "eviction_within_7_days": False},
        "consent": {
            "share_across_programmes": share,
            "basis": basis,
            "contact_channels": ["phone"],
            "contact_time": "afternoon",
        },
        "notes": "",
    }


@dataclass
class TakenIn:
    case_id: str
    case_number: str
    name: str
    #: programme -> referral id, as intake shows them once routing has decided.
    referrals: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)


def take_in(intake: httpx.Client, body: dict[str, Any], programmes: set[str]) -> TakenIn:
    """Take a resident in and wait until intake shows routing's referrals to ``programmes``."""
    response = intake.post("/api/v1/cases", json=body)
    assert response.status_code == 201, response.text[:500]
    created = response.json()
    case_id = created["case_id"]

    def referred() -> dict[str, Any] | None:
        case = intake.get(f"/api/v1/cases/{case_id}").json()
        got = {r["programme"] for r in case.get("referrals") or []}
        return case if got >= programmes else None

    case = wait_for(referred, timeout=90, what=f"referrals of {created['case_number']}")
    return TakenIn(
        case_id=case_id,
        case_number=created["case_number"],
        name=body["resident"]["name"],
        referrals={r["programme"]: r["referral_id"] for r in case["referrals"]},
        statuses={r["programme"]: r["status"] for r in case["referrals"]},
    )


def known_to_food(food: httpx.Client, case_id: str) -> None:
    """Food distribution learns of a case from routing's ``food_case_routed``: wait until it has."""
    wait_for(
        lambda: food.get(f"/api/v1/eligibility/{case_id}").status_code == 200,
        timeout=90,
        what=f"food distribution knows case {case_id}",
    )


def copy_body(body: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(body)
