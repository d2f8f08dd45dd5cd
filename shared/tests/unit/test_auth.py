"""Staff tokens: signed by intake (Ed25519), verified by every service with the public key."""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import replace

import jwt
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from tsunagu.shared.auth import (
    COOKIE_NAME,
    USE_COOKIE,
    Authenticator,
    AuthError,
    NothingRevoked,
    Principal,
    TokenSigner,
    TokenVerifier,
    check_csrf,
    generate_keypair,
)
from tsunagu.shared.http import create_app

PRIVATE, PUBLIC = generate_keypair()
SIGNER = TokenSigner(PRIVATE)
VERIFIER = TokenVerifier(PUBLIC, audience="food_distribution")
#: The development secret every service used to share for HS256 tokens.
OLD_DEV_SECRET = "dev-only-auth-secret-change-me-0123456789abcdef"


def staff(*roles: str, programmes: tuple[str, ...] = ()) -> Principal:
    return Principal(username="tanaka", roles=frozenset(roles), programmes=frozenset(programmes))


def test_token_round_trip_carries_user_roles_programmes_and_its_ids():
    token = SIGNER.issue(staff("programme", programmes=("csw_participation",)), 60)
    principal = VERIFIER.verify(token)
    assert principal.username == "tanaka"
    assert principal.roles == {"programme"}
    assert principal.programmes == {"csw_participation"}
    assert principal.csrf and principal.token_id and principal.session_id
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "EdDSA"
    assert set(claims["aud"]) == {"intake", "routing", "notify", "food_distribution"}


def test_each_token_has_its_own_id_and_a_reissue_keeps_the_sign_in():
    first = VERIFIER.verify(SIGNER.issue(staff("intake"), 60))
    again = VERIFIER.verify(SIGNER.issue(first, 60, use=USE_COOKIE))
    assert again.token_id != first.token_id
    assert again.session_id == first.session_id


def test_a_token_for_other_services_is_refused():
    token = SIGNER.issue(staff("food_desk"), 60, audience=["intake"])
    with pytest.raises(AuthError):
        VERIFIER.verify(token)


def hs256_by_hand(claims: dict, secret: bytes) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


def test_another_key_an_expired_token_hs256_and_none_are_refused():
    other = TokenSigner(generate_keypair()[0])
    expired = SIGNER.issue(staff("intake"), -1)
    now = int(time.time())
    claims = {"iss": "tsunagu", "sub": "ghost", "roles": ["admin"], "iat": now, "exp": now + 60,
              "aud": ["food_distribution"], "jti": "x", "sid": "x", "ver": 0}  # fmt: skip
    hs256 = jwt.encode(claims, OLD_DEV_SECRET, algorithm="HS256")
    # The public key used as an HMAC secret: the classic algorithm confusion.
    confused = hs256_by_hand(claims, PUBLIC.encode())
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (other.issue(staff("intake"), 60), expired, hs256, confused, unsigned):
        with pytest.raises(AuthError):
            VERIFIER.verify(token)


def test_a_session_older_than_the_maximum_age_is_refused_even_if_reissued():
    long_ago = int(time.time()) - 10 * 3600
    token = SIGNER.issue(Principal("x", frozenset({"intake"}), auth_time=long_ago), 600)
    assert VERIFIER.verify(token).auth_time == long_ago
    with pytest.raises(AuthError):
        VERIFIER.verify(token, max_age_seconds=8 * 3600)


class EndedSessions:
    def __init__(self) -> None:
        self.ended: set[str] = set()

    async def revoked(self, principal: Principal) -> bool:
        return principal.session_id in self.ended


def make_app(revocations=None) -> FastAPI:
    auth = Authenticator(VERIFIER, 3600, revocations or NothingRevoked())
    app = create_app(title="t", service="t", login_url="http://login/login", readiness=[])

    @app.get("/food-only")
    def food_only(p: Principal = Depends(auth.require("food_desk"))) -> dict[str, str]:
        return {"user": p.username}

    @app.post("/form")
    async def form(request: Request, p: Principal = Depends(auth.require())) -> dict[str, str]:
        await check_csrf(request, p)
        return {"ok": "yes"}

    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_roles_are_checked_and_admins_pass():
    client = TestClient(make_app())
    food = SIGNER.issue(staff("food_desk"), 60)
    intake = SIGNER.issue(staff("intake"), 60)
    admin = SIGNER.issue(staff("admin"), 60)
    assert client.get("/food-only", headers=bearer(food)).status_code == 200
    assert client.get("/food-only", headers=bearer(admin)).status_code == 200
    refused = client.get("/food-only", headers=bearer(intake))
    assert refused.status_code == 403
    assert "権限" in refused.json()["message"]


def test_a_revoked_sign_in_is_401():
    ended = EndedSessions()
    client = TestClient(make_app(ended))
    token = SIGNER.issue(staff("food_desk"), 60)
    assert client.get("/food-only", headers=bearer(token)).status_code == 200
    ended.ended.add(VERIFIER.verify(token).session_id)
    assert client.get("/food-only", headers=bearer(token)).status_code == 401


def test_a_sign_in_that_owes_a_password_change_opens_nothing_here():
    client = TestClient(make_app())
    token = SIGNER.issue(replace(staff("food_desk"), pending="password_change"), 60)
    assert client.get("/food-only", headers=bearer(token)).status_code == 401


def test_no_token_is_401_for_the_api_and_a_redirect_to_login_for_pages():
    client = TestClient(make_app(), follow_redirects=False)
    assert client.get("/food-only").status_code == 401
    page = client.get("/food-only", headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("http://login/login?next=")


def test_cookie_sessions_must_echo_the_csrf_token_but_bearer_clients_need_not():
    client = TestClient(make_app())
    principal = VERIFIER.verify(SIGNER.issue(staff("intake"), 60))
    token = SIGNER.issue(principal, 60)
    client.cookies.set(COOKIE_NAME, token)
    assert client.post("/form", data={}).status_code == 403
    assert client.post("/form", data={"csrf_token": "wrong"}).status_code == 403
    assert client.post("/form", data={"csrf_token": principal.csrf}).status_code == 200
    client.cookies.clear()
    assert client.post("/form", headers=bearer(token)).status_code == 200
