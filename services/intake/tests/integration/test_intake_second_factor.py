"""The admins' second factor on the real database: a code signs in once, and the secret is
kept sealed by the master key (a copy of the database does not give it away)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

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
    now = datetime.now(UTC)
    async with intake_app.runtime.sessions() as session, session.begin():
        secret = await staff_service.totp_setup_secret(session, username, master, now)
        with pytest.raises(staff_service.Invalid):
            await staff_service.set_totp(session, username, "123", master, now=now)
        await staff_service.set_totp(session, username, totp.code_at(secret, now), master, now=now)
    stored = await stored_secret(intake_app, username)
    assert totp.is_sealed(stored) and secret not in stored
    assert totp.unseal(master, stored) == secret
    listed = await intake_app.client.get("/api/v1/staff", headers=admin)
    assert listed.status_code == 200, listed.text
    (person,) = [p for p in listed.json() if p["username"] == username]
    assert person["totp_enabled"] is True
    assert "totp_secret" not in person and "totp_last_step" not in person


async def pending_of(app: App, username: str) -> tuple[str | None, datetime | None]:
    t = tables.staff_user
    async with app.runtime.sessions() as session:
        row = (
            await session.execute(
                select(t.c.totp_pending, t.c.totp_pending_until).where(t.c.username == username)
            )
        ).one()
    return row.totp_pending, row.totp_pending_until


def shown_secret(page: httpx.Response) -> str:
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert found is not None, page.text[:500]
    return found[1]


async def new_member(app: App) -> tuple[str, str]:
    """A staff member (intake) whose password needs no change: their username and password."""
    username = f"tfa_{uuid.uuid4().hex[:8]}"
    password = "first-password-" + uuid.uuid4().hex[:6]
    created = await app.client.post(
        "/api/v1/staff",
        headers=await token(app.client, "admin"),
        json={"username": username, "display_name": "二要素 画面", "roles": ["intake"],
              "password": password},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    t = tables.staff_user
    async with app.runtime.sessions() as session, session.begin():
        await session.execute(
            update(t).where(t.c.username == username).values(password_change_required=False)
        )
    return username, password


@asynccontextmanager
async def pages(app: App, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookies, and its own address for the login throttle)."""
    transport = httpx.ASGITransport(app=app.app, client=(address, 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://intake.test", headers={"Accept": "text/html"}
    ) as browser:
        yield browser


async def page_login(
    browser: httpx.AsyncClient, username: str, password: str, otp: str | None = None
) -> httpx.Response:
    login = await browser.get("/login")
    return await browser.post(
        "/login",
        data={"username": username, "password": password, "next": "/",
              "csrf_token": csrf_of(login), **({"otp": otp} if otp else {})},
    )  # fmt: skip


async def test_the_set_up_page_keeps_the_new_secret_sealed_on_the_server_not_in_a_cookie(
    intake_app: App,
) -> None:
    master = master_keys(intake_app.settings)
    username, password = await new_member(intake_app)
    t = tables.staff_user
    async with pages(intake_app, "127.0.0.3") as browser:
        signed_in = await page_login(browser, username, password)
        assert signed_in.status_code == 303, signed_in.text

        page = await browser.get("/account/totp")
        assert page.status_code == 200
        secret = shown_secret(page)
        assert re.search(
            r'id="totp-qr"><svg [^>]*><title>認証アプリで読み取るQRコード</title>', page.text
        )
        # Nothing of it goes back to the browser but the page itself, which is not cached.
        assert secret not in page.headers.get("set-cookie", "")
        assert page.headers["cache-control"] == "no-store"
        assert all(secret not in value for value in browser.cookies.values())
        sealed, until = await pending_of(intake_app, username)
        assert sealed is not None and totp.is_sealed(sealed) and secret not in sealed
        assert totp.unseal(master, sealed) == secret
        assert until is not None and until > datetime.now(UTC)

        # A reload shows the same secret (an app may already have scanned it).
        again = await browser.get("/account/totp")
        assert shown_secret(again) == secret
        # A wrong code keeps it, and says so in Japanese.
        wrong = await browser.post(
            "/account/totp",
            data={
                "csrf_token": csrf_of(again),
                "otp": _not(totp.code_at(secret, datetime.now(UTC))),
            },
        )
        assert wrong.status_code == 422
        assert "確認コードが違います" in wrong.text and shown_secret(wrong) == secret

        # Ten minutes passed: the secret waiting is no good, a new one is shown.
        async with intake_app.runtime.sessions() as session, session.begin():
            await session.execute(
                update(t)
                .where(t.c.username == username)
                .values(totp_pending_until=datetime.now(UTC) - timedelta(seconds=1))
            )
        expired = await browser.post(
            "/account/totp",
            data={"csrf_token": csrf_of(wrong), "otp": totp.code_at(secret, datetime.now(UTC))},
        )
        assert expired.status_code == 422 and "有効期限が切れました" in expired.text
        fresh = shown_secret(expired)
        assert fresh != secret

        done = await browser.post(
            "/account/totp",
            data={"csrf_token": csrf_of(expired), "otp": totp.code_at(fresh, datetime.now(UTC))},
        )
        assert done.status_code == 303, done.text
    assert totp.unseal(master, await stored_secret(intake_app, username)) == fresh
    assert await pending_of(intake_app, username) == (None, None)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found[1]


def _not(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def with_factor(app: App, username: str) -> str:
    """Set ``username``'s second factor up as the page does; its secret. Set up with the code of
    the step before this one, so the app's next two codes are still to come."""
    master = master_keys(app.settings)
    now = datetime.now(UTC)
    async with app.runtime.sessions() as session, session.begin():
        secret = await staff_service.totp_setup_secret(session, username, master, now)
        code = totp.code_at(secret, now - totp.STEP)
        assert await staff_service.set_totp(session, username, code, master, now=now)
    return secret


async def audited(app: App, action: str, target: str) -> list[str]:
    """Who did ``action`` to ``target``, per the audit log."""
    a = tables.audit_log
    async with app.runtime.sessions() as session:
        rows = await session.execute(
            select(a.c.actor).where(a.c.action == action, a.c.target == target)
        )
    return [r.actor for r in rows]


async def test_a_factor_is_moved_to_another_app_only_with_a_code_from_the_current_one(
    intake_app: App,
) -> None:
    # A session left open on a shared desk is not enough to move someone's second factor to
    # the onlooker's phone: the page also wants a code from the app the person uses now.
    master = master_keys(intake_app.settings)
    username, password = await new_member(intake_app)
    first = await with_factor(intake_app, username)
    phone = totp.Authenticator(first)

    async with pages(intake_app, "127.0.0.4") as browser:
        code = phone.code_or_wait(datetime.now(UTC))
        assert isinstance(code, str)
        assert (await page_login(browser, username, password, code)).status_code == 303
        page = await browser.get("/account/totp")
        assert "すでに設定されています" in page.text and 'name="current_otp"' in page.text
        second = shown_secret(page)

        # Without the current app's code, or with a wrong one: refused, the factor unchanged,
        # and the attempt counted as a failed sign-in.
        for given in ({}, {"current_otp": "000000"}):
            refused = await browser.post(
                "/account/totp",
                data={"csrf_token": csrf_of(page), "otp": totp.code_at(second, datetime.now(UTC)),
                      **given},
            )  # fmt: skip
            assert refused.status_code == 422
            assert "今お使いのアプリの確認コードが違う" in refused.text
            assert totp.unseal(master, await stored_secret(intake_app, username)) == first
        d = tables.login_delay
        async with intake_app.runtime.sessions() as session:
            failures = await session.scalar(
                select(d.c.failures).where(
                    d.c.key.contains(username), d.c.key.contains("127.0.0.4")
                )
            )
        assert failures == 2

        current = phone.code_or_wait(datetime.now(UTC))
        assert isinstance(current, str)
        moved = await browser.post(
            "/account/totp",
            data={"csrf_token": csrf_of(page), "otp": totp.code_at(second, datetime.now(UTC)),
                  "current_otp": current},
        )  # fmt: skip
        assert moved.status_code == 303, moved.text
    assert totp.unseal(master, await stored_secret(intake_app, username)) == second
    assert await audited(intake_app, "auth.totp_replaced", username) == [username]


async def test_an_admin_removes_a_lost_factor_and_the_persons_sign_ins_end(
    intake_app: App,
) -> None:
    username, password = await new_member(intake_app)
    secret = await with_factor(intake_app, username)
    now = datetime.now(UTC)
    t = tables.staff_user
    client = intake_app.client
    signed_in = await client.post(
        "/api/v1/auth/token",
        data={"username": username, "password": password,
              "otp": totp.code_at(secret, now + totp.STEP)},
    )  # fmt: skip
    assert signed_in.status_code == 200, signed_in.text
    theirs = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    assert (await client.get("/api/v1/events", headers=theirs)).status_code == 200
    admin = await token(client, "admin")

    # Only an admin may; an unknown account is a 404.
    assert (
        await client.delete(f"/api/v1/staff/{username}/totp", headers=theirs)
    ).status_code == 403
    assert (await client.delete("/api/v1/staff/nobody_here/totp", headers=admin)).status_code == 404

    # The admin page offers it, and the form takes it off.
    async with pages(intake_app, "127.0.0.5") as browser:
        login = await page_login(browser, "admin", PASSWORD, (await otp_fields("admin"))["otp"])
        assert login.status_code == 303
        page = await browser.get(f"/admin/staff/{username}")
        assert "2段階認証を解除する" in page.text
        removed = await browser.post(
            f"/admin/staff/{username}/totp/remove", data={"csrf_token": csrf_of(page)}
        )
        assert removed.status_code == 303
        after = await browser.get(f"/admin/staff/{username}")
        assert "2段階認証を解除する" not in after.text and "設定されていません" in after.text

    assert (await client.get("/api/v1/events", headers=theirs)).status_code == 401
    async with intake_app.runtime.sessions() as session:
        row = (await session.execute(select(t).where(t.c.username == username))).one()
    assert (row.totp_secret, row.totp_last_step, row.totp_pending) == (None, None, None)
    assert await audited(intake_app, "staff.totp_removed", username) == ["admin"]
    # The password alone signs them in now; removing again changes nothing.
    again = await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert again.status_code == 200, again.text
    assert (await client.delete(f"/api/v1/staff/{username}/totp", headers=admin)).status_code == 204
    assert await audited(intake_app, "staff.totp_removed", username) == ["admin"]
