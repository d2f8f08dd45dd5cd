"""The service as deployed: ``python -m tsunagu.shared.cli serve food_distribution``."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_the_process_starts_serves_and_reports_ready(test_settings, food_schema) -> None:
    settings = test_settings("food_distribution")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "TSUNAGU_ENV": "test",
        "TSUNAGU_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "TSUNAGU_DATABASE_URL": settings.database_url,
        "TSUNAGU_HTTP_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsunagu.shared.cli", "serve", "food_distribution"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            ready = None
            deadline = asyncio.get_running_loop().time() + 180  # a loaded machine starts slowly
            while asyncio.get_running_loop().time() < deadline:
                try:
                    ready = await client.get("/readyz")
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, "the service exited"
                await asyncio.sleep(0.2)
            assert ready is not None, "the service did not answer within 180 s"
            assert ready.json() == {
                "status": "ready",
                "checks": {"database": "ok", "kafka": "ok", "consumers": "ok"},
            }
            assert (await client.get("/healthz")).json()["service"] == "food_distribution"
            paths = (await client.get("/openapi.json")).json()["paths"]
            assert {"/api/v1/stock", "/api/v1/handouts", "/api/v1/reports/{event_id}.csv"} <= set(
                paths
            )
            desk = await client.get("/desk", headers={"Accept": "text/html"})
            assert desk.status_code == 303
            assert desk.headers["location"].startswith(settings.intake_url + "/login?next=")
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
    # Uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
    assert proc.returncode in (0, -signal.SIGTERM)
