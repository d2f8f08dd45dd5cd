"""The admins' second factor on the real database: a code signs in once, and the secret is
kept sealed by the master key (a copy of the database does not give it away)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from intake_helpers import ADMIN_TOTP_SECRET, PASSWORD, App, otp_fields, token
from sqlalchemy import select, update

from tsunagu.intake.adapters import totp
from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.keys import master_keys

pytestmark = pytest.mark.integration


async def sign_in(client: httpx.AsyncClient, otp: str) -> int:
    response = await client.post(
        "/api/v1/auth/token",
        data={"username": "admin", "password": PASSWORD, "otp": otp},
    )
    return response.status_code


async def stored_secret(app: App, username: str) -> str:
    t = tables.staff_user
    async with app.runtime.sessions() as session:
        found = await session.scalar(select(t.c.totp_secret).where(t.c.username == username))
    assert found is not None
    return str(found)


async def test_a_code_signs_in_once(intake_app: App) -> None:
    code = (await otp_fields("admin"))["otp"]
    assert await sign_in(intake_app.client, code) == 200
    # Seen over a shoulder or replayed from a log: the same code is refused now.
    assert await sign_in(intake_app.client, code) == 401
    # A wrong code is refused like a wrong password; a fresh one still works.
    assert await sign_in(intake_app.client, "000000" if code != "000000" else "111111") == 401
    assert await sign_in(intake_app.client, (await otp_fields("admin"))["otp"]) == 200


async def test_the_secret_is_stored_sealed_and_an_old_plain_one_is_sealed_at_sign_in(
    intake_app: App,
) -> None:
    master = master_keys(intake_app.settings)
    sealed = await stored_secret(intake_app, "admin")
    assert totp.is_sealed(sealed)
    assert ADMIN_TOTP_SECRET not in sealed
    assert totp.unseal(master, sealed) == ADMIN_TOTP_SECRET

    # A secret stored before secrets were sealed still signs in, and is sealed on the way.
    t = tables.staff_user
    async with intake_app.runtime.sessions() as session, session.begin():
        await session.execute(
            update(t).where(t.c.username == "admin").values(totp_secret=ADMIN_TOTP_SECRET)
        )
    assert await sign_in(intake_app.client, (await otp_fields("admin"))["otp"]) == 200
    resealed = await stored_secret(intake_app, "admin")
    assert totp.is_sealed(resealed)
    assert totp.unseal(master, resealed) == ADMIN_TOTP_SECRET


async def test_setting_the_factor_up_stores_it_sealed_and_takes_the_code_shown(
    intake_app: App,
) -> None:
    master = master_keys(intake_app.settings)
    username = f"tfa_{uuid.uuid4().hex[:8]}"
    admin = await token(intake_app.client, "admin")
    created = await intake_app.client.post(
        "/api/v1/staff",
        headers=admin,
        json={"username": username, "display_name": "二要素 試験", "roles": ["intake"],
              "password": "first-password-" + uuid.uuid4().hex[:6]},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    secret = totp.new_secret()
    now = datetime.now(UTC)
    async with intake_app.runtime.sessions() as session, session.begin():
        with pytest.raises(staff_service.Invalid):
            await staff_service.set_totp(session, username, secret, "123", master, now)
        await staff_service.set_totp(
            session, username, secret, totp.code_at(secret, now), master, now
        )
    stored = await stored_secret(intake_app, username)
    assert totp.is_sealed(stored) and secret not in stored
    assert totp.unseal(master, stored) == secret
    listed = await intake_app.client.get("/api/v1/staff", headers=admin)
    assert listed.status_code == 200, listed.text
    (person,) = [p for p in listed.json() if p["username"] == username]
    assert person["totp_enabled"] is True
    assert "totp_secret" not in person and "totp_last_step" not in person
