"""The real process, as ``make up`` starts it: ``python -m tsunagu.shared.cli serve notify``.

Dev mode with no relay configured: the process catches its own mail, and a new user sees a
referral's email on ``/api/v1/dev/mail`` (and ``/dev/mail``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tsunagu.shared.contracts.topics import programme_topic_name
from tsunagu.shared.settings import Settings

from .conftest import eventually, free_port, publish, staff_token
from .events import new_case, referral_created

pytestmark = pytest.mark.integration


@pytest.fixture
def notify_process(settings: Settings, consumer_name: str) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "TSUNAGU_ENV": "dev",
        "TSUNAGU_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "TSUNAGU_DATABASE_URL": settings.database_url,
        "TSUNAGU_HTTP_PORT": str(port),
        "TSUNAGU_NOTIFY_SMTP_PORT": str(free_port()),
        "TSUNAGU_NOTIFY_POLL_SECONDS": "0.2",
        "TSUNAGU_NOTIFY_CONSUMER_NAME": f"{consumer_name}-process",
        # The tests sign staff tokens with the session's key; the process checks them.
        "TSUNAGU_AUTH_PUBLIC_KEY": settings.verifying_key(),
    }
    env.pop("TSUNAGU_NOTIFY_SMTP_HOST", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "tsunagu.shared.cli", "serve", "notify"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


async def test_the_dev_process_catches_its_mail_and_shows_it(
    notify_process: str, settings: Settings, producer
):
    headers = {"Authorization": f"Bearer {staff_token(settings)}"}
    async with httpx.AsyncClient(base_url=notify_process, headers=headers, timeout=5) as client:

        async def ready() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, timeout=60, interval=0.3)
        case_id, number = new_case()
        topic = programme_topic_name("csw_participation")
        await publish(
            producer, topic, referral_created(case_id, number, "csw_participation"), case_id
        )

        async def caught() -> list[dict[str, Any]]:
            mails = (await client.get("/api/v1/dev/mail")).json()
            return [m for m in mails if number in m["subject"]]

        [mail] = await eventually(caught, timeout=60)
        assert mail["rcpt_tos"] == ["csw_participation@team.tsunagu.example"]
        page = await client.get("/dev/mail")
        assert number in page.text
