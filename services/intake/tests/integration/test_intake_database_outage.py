"""While intake's database is unreachable it answers 503 with Retry-After and says not ready;
the first request after the database is back succeeds (no dead pooled connection handed out)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from intake_helpers import case_body, token
from sqlalchemy.engine import make_url

from tsunagu.devstack.proxy import TcpProxy
from tsunagu.shared.settings import Settings

pytestmark = pytest.mark.integration


async def test_database_outage_answers_503_then_the_first_request_after_it_201(
    intake_settings: Settings,
) -> None:
    from tsunagu.intake.bootstrap import build_app, build_runtime

    url = make_url(intake_settings.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    settings = intake_settings.model_copy(
        update={"database_url": proxy.url(intake_settings.database_url)}
    )
    runtime = build_runtime(settings, consumer=f"intake-outage-{uuid.uuid4().hex[:8]}")
    app = build_app(settings, runtime)
    await runtime.start()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as client:
            headers = await token(client, "uketsuke")
            # Warm both pools, so that their connections die with the database.
            first = await client.post("/api/v1/cases", json=case_body(), headers=headers)
            assert first.status_code == 201, first.text
            assert (await client.get("/readyz")).status_code == 200

            await proxy.cut()
            for _ in range(3):
                down = await client.post(
                    "/api/v1/cases",
                    json=case_body(),
                    headers=headers | {"Idempotency-Key": str(uuid.uuid4())},
                )
                assert down.status_code == 503, down.text
                assert int(down.headers["Retry-After"]) > 0
                assert "しばらくしてから" in down.json()["message"]
            page = await client.get("/cases/new", headers=headers | {"Accept": "text/html"})
            assert page.status_code in (200, 503)  # the form may not need the database
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "unavailable"
            assert ready.json()["checks"]["reception_numbers"] == "unavailable"

            await proxy.restore()
            back = await client.post("/api/v1/cases", json=case_body(), headers=headers)
            assert back.status_code == 201, back.text
            again = await client.post("/api/v1/cases", json=case_body(), headers=headers)
            assert again.status_code == 201, again.text
            assert again.json()["case_number"] > back.json()["case_number"]
            # Ready again once its consumers are through their current backoff.
            for _ in range(100):
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert (await client.get("/readyz")).json()["status"] == "ready"
    finally:
        await runtime.stop()
        await runtime.engine.dispose()
        await proxy.cut()
