"""Staff tokens: issued by intake, verified by every service."""

import time

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from tsunagu.shared.auth import (
    COOKIE_NAME,
    Authenticator,
    AuthError,
    Principal,
    check_csrf,
    issue_token,
    verify_token,
)
from tsunagu.shared.http import create_app

SECRET = "test-secret-0123456789-0123456789-abcdef"


def staff(*roles: str, programmes: tuple[str, ...] = ()) -> Principal:
    return Principal(username="tanaka", roles=frozenset(roles), programmes=frozenset(programmes))


def test_token_round_trip_carries_user_roles_and_programmes():
    token = issue_token(staff("programme", programmes=("csw_participation",)), SECRET, 60)
    principal = verify_token(token, SECRET)
    assert principal.username == "tanaka"
    assert principal.roles == {"programme"}
    assert principal.programmes == {"csw_participation"}
    assert principal.csrf


@pytest.mark.parametrize(
    ("token_secret", "ttl", "why"),
    [("another-secret-0123456789-0123456789-abc", 60, "signature"), (SECRET, -1, "expired")],
)
def test_bad_or_expired_tokens_are_refused(token_secret, ttl, why):
    token = issue_token(staff("intake"), token_secret, ttl)
    with pytest.raises(AuthError):
        verify_token(token, SECRET)


def test_a_session_older_than_the_maximum_age_is_refused_even_if_reissued():
    long_ago = int(time.time()) - 10 * 3600
    token = issue_token(Principal("x", frozenset({"intake"}), auth_time=long_ago), SECRET, 600)
    assert verify_token(token, SECRET).auth_time == long_ago
    with pytest.raises(AuthError):
        verify_token(token, SECRET, max_age_seconds=8 * 3600)


def make_app() -> FastAPI:
    auth = Authenticator(SECRET, 3600)
    app = create_app(title="t", service="t", login_url="http://login/login", readiness=[])

    @app.get("/food-only")
    def food_only(p: Principal = Depends(auth.require("food_desk"))) -> dict[str, str]:
        return {"user": p.username}

    @app.post("/form")
    async def form(request: Request, p: Principal = Depends(auth.require())) -> dict[str, str]:
        await check_csrf(request, p)
        return {"ok": "yes"}

    return app


def test_roles_are_checked_and_admins_pass():
    client = TestClient(make_app())
    food = issue_token(staff("food_desk"), SECRET, 60)
    intake = issue_token(staff("intake"), SECRET, 60)
    admin = issue_token(staff("admin"), SECRET, 60)
    assert client.get("/food-only", headers={"Authorization": f"Bearer {food}"}).status_code == 200
    assert client.get("/food-only", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    refused = client.get("/food-only", headers={"Authorization": f"Bearer {intake}"})
    assert refused.status_code == 403
    assert "権限" in refused.json()["detail"]


def test_no_token_is_401_for_the_api_and_a_redirect_to_login_for_pages():
    client = TestClient(make_app(), follow_redirects=False)
    assert client.get("/food-only").status_code == 401
    page = client.get("/food-only", headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("http://login/login?next=")


def test_cookie_sessions_must_echo_the_csrf_token_but_bearer_clients_need_not():
    client = TestClient(make_app())
    principal = verify_token(issue_token(staff("intake"), SECRET, 60), SECRET)
    token = issue_token(principal, SECRET, 60)
    client.cookies.set(COOKIE_NAME, token)
    assert client.post("/form", data={}).status_code == 403
    assert client.post("/form", data={"csrf_token": "wrong"}).status_code == 403
    assert client.post("/form", data={"csrf_token": principal.csrf}).status_code == 200
    client.cookies.clear()
    bearer = client.post("/form", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200
