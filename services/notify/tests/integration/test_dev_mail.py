"""The dev mail catcher: in dev mode with no relay, notify keeps and shows what it sends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tsunagu.notify.bootstrap import build_app
from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.shared import phones
from tsunagu.shared.contracts.topics import INTAKE_CONTACT, ROUTING_NOTIFY

from .conftest import (
    TestClock,
    api,
    eventually,
    free_port,
    publish,
    publish_referral,
    staff_token,
)
from .events import case_created, new_case, referral_status_changed

pytestmark = pytest.mark.integration


async def test_dev_mode_catches_every_email_and_shows_it(start_notify, test_settings, producer):
    dev = test_settings("notify", env="dev")
    runtime = await start_notify(settings_=dev, smtp_host=None, smtp_port=free_port())
    assert runtime.mail_catcher is not None
    _, number = await publish_referral(producer)

    async with api(runtime) as client:

        async def caught() -> Any:
            mails = (await client.get("/api/v1/dev/mail")).json()
            return [m for m in mails if number in m["subject"]]

        [mail] = await eventually(caught)
        assert mail["rcpt_tos"] == ["life_independence@team.tsunagu.example"]
        assert "新しい紹介が届きました" in mail["text"]
        page = await client.get("/dev/mail")
        assert page.status_code == 200
        assert f"新しい紹介があります（受付番号 {number}）" in page.text


async def test_dev_mode_sends_sms_over_http_to_the_local_sink_and_shows_it(
    start_notify, test_settings, producer
):
    # No SMS provider configured: before, an SMS-only resident ended as sms_not_configured.
    dev = test_settings("notify", env="dev")
    runtime = await start_notify(
        TestClock(datetime(2025, 6, 3, 10, 0, tzinfo=TOKYO)),  # daytime: sent at once
        settings_=dev,
        smtp_host=None,
        smtp_port=free_port(),
        dev_sms_port=free_port(),
    )
    assert runtime.sms_sink is not None
    case_id, number = new_case()
    phone = f"090{10**7 + int(case_id[-8:], 16) % (9 * 10**7)}"
    created = case_created(dev, case_id, number, channels=["sms"], phone=phone)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    accepted = referral_status_changed(case_id, number, "accepted")
    await publish(producer, ROUTING_NOTIFY.name, accepted, case_id)

    async with api(runtime) as client:

        async def received() -> Any:
            messages = (await client.get("/api/v1/dev/sms")).json()
            return [m for m in messages if m["to_number"] == phones.e164(phone)]

        [message] = await eventually(received)
        assert message["body"].strip()
        page = await client.get("/dev/sms")
        assert page.status_code == 200
        assert phones.e164(phone) in page.text


async def test_there_is_no_dev_mail_in_prod(test_settings, settings):
    # Production gives notify its own contact key (it seals imported invitations and opens
    # values sealed before residents had keys of their own); there is no development default.
    prod = test_settings("notify", env="prod", contact_key=Fernet.generate_key().decode())
    app = build_app(prod)
    headers = {"Authorization": f"Bearer {staff_token(prod)}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://notify.test", headers=headers
    ) as client:
        assert (await client.get("/api/v1/dev/mail")).status_code == 404
        assert (await client.get("/dev/mail")).status_code == 404
        assert (await client.get("/api/v1/dev/sms")).status_code == 404
        assert (await client.get("/api/v1/deliveries")).status_code == 200
    await app.state.runtime.engine.dispose()
