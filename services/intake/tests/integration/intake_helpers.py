"""Helpers for intake's integration tests: bodies, tokens, reading topics, publishing events."""

from __future__ import annotations

import asyncio
import copy
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI

from tsunagu.intake.adapters import totp
from tsunagu.intake.domain.case_input import EXAMPLE_BODY
from tsunagu.intake.service_layer.staff import event_id_for
from tsunagu.shared import testing
from tsunagu.shared.clock import japan_today
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.runtime import ServiceRuntime
from tsunagu.shared.settings import Settings
from tsunagu.shared.testing import eventually as eventually  # the tests import it from here
from tsunagu.shared.testing import read_topic as read_topic

#: Nothing listens here: the routing preview must degrade gracefully.
DEAD_ROUTING_URL = "http://127.0.0.1:9"
PASSWORD = "tsunagu-demo"
#: The demo admin's second factor in these tests (admins must have one).
ADMIN_TOTP_SECRET = totp.new_secret()


ADMIN_AUTHENTICATOR = totp.Authenticator(ADMIN_TOTP_SECRET)


async def otp_fields(username: str) -> dict[str, str]:
    """A fresh TOTP code for the demo admin (a code signs in once); nothing for staff without
    a second factor."""
    if username != "admin":
        return {}
    given = ADMIN_AUTHENTICATOR.code_or_wait(datetime.now(UTC))
    if isinstance(given, float):  # both usable codes given: the next step brings a new one
        await asyncio.sleep(given)
        given = ADMIN_AUTHENTICATOR.code_or_wait(datetime.now(UTC))
    assert isinstance(given, str)
    return {"otp": given}


@dataclass
class App:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    client: httpx.AsyncClient


def today() -> date:
    """The session's day: the settings pin it (``pinned_date``), so a run past midnight in
    Tokyo still finds the events it seeded."""
    return japan_today()


def todays_event(venue_id: str = "aeon-mall") -> str:
    return event_id_for(today(), venue_id)


def unique_phone() -> str:
    return "080" + str(uuid.uuid4().int)[:8]


def case_body(**changes: Any) -> dict[str, Any]:
    """The article's example resident at today's event, with a phone of its own."""
    body = copy.deepcopy(EXAMPLE_BODY)
    body["event_id"] = todays_event()
    body["resident"]["phone"] = unique_phone()
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for part in parents:
            target = target[part]
        target[last] = value
    return body


#: The admin's bearer headers per client: a TOTP code signs in once, so tests share one
#: sign-in instead of waiting for the authenticator's clock.
_ADMIN_HEADERS: weakref.WeakKeyDictionary[httpx.AsyncClient, dict[str, str]] = (
    weakref.WeakKeyDictionary()
)


async def token(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    if username == "admin" and client in _ADMIN_HEADERS:
        return dict(_ADMIN_HEADERS[client])
    headers = await _sign_in(client, username)
    if username == "admin":
        _ADMIN_HEADERS[client] = headers
    return dict(headers)


async def _sign_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/token",
        data={"username": username, "password": PASSWORD, **(await otp_fields(username))},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def publish(bootstrap: str, topic: str, key: str, envelope: Envelope) -> None:
    await testing.publish(bootstrap, topic, envelope, key=key)


def case_routed(case_id: str, case_number: str, event_id: str, **overrides: Any) -> Envelope:
    """What routing would decide for the article's example (life_independence leads)."""
    deadline = (datetime.now(ZoneInfo("UTC")) + timedelta(days=2)).isoformat()
    data: dict[str, Any] = {
        "case_id": case_id,
        "case_number": case_number,
        "event_id": event_id,
        "rule_version": "2025.1",
        "lead": "life_independence",
        "coordinator": None,
        "compound": False,
        "urgent": False,
        "food_parcel_eligible": True,
        "referrals": [
            {
                "referral_id": str(uuid.uuid4()),
                "programme": "life_independence",
                "role": "lead",
                "status": "pending",
                "deadline_at": deadline,
                "reasons": [
                    {"code": "concern", "params": {"concern": "income_shortfall"}},
                    {"code": "lead_most_pressing", "params": {"concern": "income_shortfall"}},
                ],
                "allowed_actions": ["accept", "decline"],
            },
            {
                "referral_id": str(uuid.uuid4()),
                "programme": "csw_participation",
                "role": "member",
                "status": "pending",
                "deadline_at": deadline,
                "reasons": [{"code": "concern", "params": {"concern": "isolation"}}],
                "allowed_actions": ["accept", "decline"],
            },
        ],
        **overrides,
    }
    return Envelope(event_type="case_routed", producer="routing", data=data)


def eligibility_granted(case_id: str, event_id: str) -> Envelope:
    """What the food desk publishes when it follows routing's decision (rule 9)."""
    data = {
        "case_id": case_id,
        "household_id": str(uuid.uuid4()),
        "event_id": event_id,
        "basis": "economic_concern",
        "reason": "routing_decision",
    }
    return Envelope(event_type="eligibility_granted", producer="food_distribution", data=data)


async def open_as(app: App, service: str, sealed: str) -> Any:
    """Open a resident-sealed value as ``service`` would: its purpose key from intake's key
    endpoint, under that service's own credential (ADR 12)."""
    from tsunagu.shared.crypto import Sealer
    from tsunagu.shared.internal import IntakeKeys

    keys = IntakeKeys(
        app.settings.model_copy(update={"service": service}),
        transport=httpx.ASGITransport(app=app.app),
    )
    try:
        return await Sealer(keys).open(sealed)
    finally:
        await keys.stop()
