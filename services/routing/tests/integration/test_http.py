"""Routing's HTTP API through the real app: explain, referral lists, the AsyncAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml
from routing_testkit import FakeClock, Tap, case_created, publish
from sqlalchemy import func, select

from tsunagu.routing.asyncapi import document
from tsunagu.routing.bootstrap import RoutingRuntime, build_app
from tsunagu.shared.auth import Principal, issue_token

pytestmark = pytest.mark.integration

#: What intake sends: the facts case_created will carry (an age, never a birth date or name),
#: and the sharing basis. Unknown fields are ignored, not echoed.
EXPLAIN_BODY: dict[str, Any] = {
    "facts": {
        "concerns": ["income_shortfall", "isolation"],
        "most_pressing": "income_shortfall",
        "age": 78,
        "lives_alone": True,
        "disability_certificate": False,
        "special_loan_borrower": False,
        "urgent": {"no_food_today": False, "eviction_within_7_days": False},
    },
    "sharing_basis": "consent",
    "notes": "話し相手がほしいとのこと",
}


@pytest.fixture
async def runtime(start_runtime) -> RoutingRuntime:
    return await start_runtime(FakeClock())


@pytest.fixture
async def client(runtime: RoutingRuntime) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(runtime.settings, runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://routing") as client:
        yield client


def bearer(runtime: RoutingRuntime, *roles: str, programmes: tuple[str, ...] = ()) -> dict:
    principal = Principal(
        username="staff", roles=frozenset(roles), programmes=frozenset(programmes)
    )
    token = issue_token(principal, runtime.settings.signing_key(), 3600)
    return {"Authorization": f"Bearer {token}"}


async def test_explain_routes_the_contracts_facts_without_storing_them(
    client: httpx.AsyncClient, runtime: RoutingRuntime
) -> None:
    d = runtime.tables.decision
    async with runtime.sessions() as session:
        before = await session.scalar(select(func.count()).select_from(d))

    response = await client.post(
        "/api/v1/routing/explain", json=EXPLAIN_BODY, headers=bearer(runtime, "intake")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["programmes"] == ["life_independence", "csw_participation"]
    assert body["lead"] == "life_independence"
    assert body["coordinator"] is None
    assert body["compound"] is False
    assert body["urgent"] is False
    assert body["food_parcel_eligible"] is True
    assert body["awaiting_consent"] == []
    assert body["rule_version"] == "2026.1"
    assert body["roles"] == {"life_independence": "lead", "csw_participation": "member"}
    assert body["reasons"]["life_independence"] == [
        {"code": "concern", "params": {"concern": "income_shortfall"}},
        {"code": "lead_most_pressing", "params": {"concern": "income_shortfall"}},
    ]
    assert body["external"] == []
    assert "話し相手" not in response.text

    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(d)) == before


async def test_explain_shows_what_awaits_consent(
    client: httpx.AsyncClient, runtime: RoutingRuntime
) -> None:
    body = {
        "facts": {"concerns": ["health", "dementia_money", "dv_abuse"], "age": 76},
        "sharing_basis": "none",
    }
    response = await client.post(
        "/api/v1/routing/explain", json=body, headers=bearer(runtime, "coordinator")
    )
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["urgent"] is True
    assert decision["programmes"] == ["elderly_support", "adult_guardianship"]
    assert decision["awaiting_consent"] == ["adult_guardianship"]
    assert {e["agency"] for e in decision["external"]} == {"health_centre", "dv_centre"}
    assert {
        "code": "age_and_concern",
        "params": {"age": 76, "threshold": 65, "concern": "dementia_money"},
    } in decision["reasons"]["elderly_support"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"concerns": ["income_shortfall", "gambling"]}, ["body", "facts"]),
        ({"most_pressing": "housing"}, ["body", "facts"]),
        ({"concerns": []}, ["body", "facts", "concerns"]),
        ({"age": 131}, ["body", "facts", "age"]),
        ({"age": "昭和23年"}, ["body", "facts", "age"]),
    ],
)
async def test_explain_names_the_invalid_field(
    client: httpx.AsyncClient, runtime: RoutingRuntime, change: dict, field: list[str]
) -> None:
    body = {**EXPLAIN_BODY, "facts": {**EXPLAIN_BODY["facts"], **change}}
    response = await client.post(
        "/api/v1/routing/explain", json=body, headers=bearer(runtime, "intake")
    )
    assert response.status_code == 422
    locations = [e["loc"][: len(field)] for e in response.json()["fields"]]
    assert field in locations
    if "gambling" in str(change):
        assert "unknown concern code(s): 'gambling'" in response.text


async def test_explain_needs_a_staff_token(
    client: httpx.AsyncClient, runtime: RoutingRuntime
) -> None:
    response = await client.post("/api/v1/routing/explain", json=EXPLAIN_BODY)
    assert response.status_code == 401
    forged = {"Authorization": "Bearer not-a-token"}
    response = await client.post("/api/v1/routing/explain", json=EXPLAIN_BODY, headers=forged)
    assert response.status_code == 401
    response = await client.post(
        "/api/v1/routing/explain", json=EXPLAIN_BODY, headers=bearer(runtime, "food_desk")
    )
    assert response.status_code == 200  # any signed-in staff member may ask


async def test_referral_lists_show_programme_members_their_programmes_only(
    client: httpx.AsyncClient, runtime: RoutingRuntime, producer, tap: Tap
) -> None:
    held_back = case_created(["income_shortfall", "isolation"], basis="none")
    shared = case_created(["isolation", "debt_arrears"], most_pressing="isolation")
    for case in (held_back, shared):
        await publish(producer, case)
    await tap.wait_for(
        [held_back.data["case_id"], shared.data["case_id"]], 2, event_type="case_routed"
    )

    intake = bearer(runtime, "intake")
    response = await client.get(
        f"/api/v1/cases/{held_back.data['case_id']}/referrals", headers=intake
    )
    assert response.status_code == 200
    assert [(r["programme"], r["status"]) for r in response.json()] == [
        ("csw_participation", "suggested"),
        ("life_independence", "pending"),
    ]

    member = bearer(runtime, "programme", programmes=("csw_participation",))
    response = await client.get(
        f"/api/v1/cases/{held_back.data['case_id']}/referrals", headers=member
    )
    assert response.status_code == 404  # suggested: the programme has not received the case
    response = await client.get(f"/api/v1/cases/{shared.data['case_id']}/referrals", headers=member)
    assert [(r["programme"], r["role"]) for r in response.json()] == [("csw_participation", "lead")]

    response = await client.get(
        "/api/v1/referrals",
        params={"programme": "csw_participation", "status": "pending"},
        headers=member,
    )
    assert response.status_code == 200
    listed = response.json()
    assert shared.data["case_id"] in {r["case_id"] for r in listed}
    assert held_back.data["case_id"] not in {r["case_id"] for r in listed}
    assert {(r["programme"], r["status"]) for r in listed} == {("csw_participation", "pending")}

    response = await client.get(
        "/api/v1/referrals", params={"programme": "welfare_fund"}, headers=member
    )
    assert response.status_code == 403
    response = await client.get("/api/v1/referrals", headers=bearer(runtime, "food_desk"))
    assert response.status_code == 403
    response = await client.get("/api/v1/referrals")
    assert response.status_code == 401

    response = await client.get(
        "/api/v1/referrals", params={"status": "suggested", "limit": 500}, headers=intake
    )
    assert held_back.data["case_id"] in {r["case_id"] for r in response.json()}


async def test_the_asyncapi_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/asyncapi.yaml")
    assert response.status_code == 200
    assert yaml.safe_load(response.text) == document()
    response = await client.get("/asyncapi.json")
    assert response.json() == document()
    assert "routing_programme_welfare_fund_v1" in response.json()["channels"]
