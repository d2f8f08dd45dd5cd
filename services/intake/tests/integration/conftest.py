"""Intake on real Kafka and PostgreSQL: the app in-process (httpx) and served by uvicorn."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tsunagu.shared.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))

from intake_helpers import ADMIN_TOTP_SECRET, DEAD_ROUTING_URL, PASSWORD, App, otp_fields

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def intake_migrated(migrated: Callable[[str], None]) -> None:
    migrated("intake")  # sync: Alembic runs its own event loop


@pytest.fixture(scope="session")
async def intake_settings(
    test_settings: Callable[..., Settings], intake_migrated: None
) -> Settings:
    """Intake's settings on the test infrastructure, schema migrated, demo data seeded."""
    from tsunagu.intake.demo import seed

    settings = test_settings("intake", routing_url=DEAD_ROUTING_URL)
    await seed(settings, totp_secret=ADMIN_TOTP_SECRET)
    return settings


@pytest.fixture(scope="session")
async def intake_app(intake_settings: Settings) -> AsyncIterator[App]:
    """The app with its relay and consumers running, driven through httpx in this process."""
    from tsunagu.intake.bootstrap import build_app, build_runtime

    # A consumer group of its own: other intake processes on this broker must not take our
    # partitions of routing.case.v1 and food.v1.
    runtime = build_runtime(intake_settings, consumer=f"intake-test-{uuid.uuid4().hex[:8]}")
    app = build_app(intake_settings, runtime)
    await runtime.start()
    # Not 127.0.0.1: the fuzzing tests' failed logins make that address wait.
    transport = httpx.ASGITransport(app=app, client=("127.0.0.2", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as client:
        yield App(settings=intake_settings, runtime=runtime, app=app, client=client)
    await runtime.stop()
    await runtime.engine.dispose()


@pytest.fixture
async def admin(intake_app: App) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of its own, signed in as the admin."""
    transport = httpx.ASGITransport(app=intake_app.app, client=("127.0.0.2", 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://intake.test", headers={"Accept": "text/html"}
    ) as client:
        page = await client.get("/login")
        await client.post(
            "/login",
            data={
                "username": "admin",
                "password": PASSWORD,
                "csrf_token": _csrf_of(page),
                "next": "/",
                **(await otp_fields("admin")),  # admins have a second factor
            },
        )
        yield client


def _csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:300]
    return found[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def served_intake(intake_settings: Settings, artefacts_root: Path) -> Iterator[str]:
    """``python -m tsunagu.shared.cli serve intake`` on a free port, as in production."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TSUNAGU_ENV": "test",
        "TSUNAGU_KAFKA_BOOTSTRAP": intake_settings.kafka_bootstrap,
        "TSUNAGU_DATABASE_URL": intake_settings.database_url,
        "TSUNAGU_HTTP_PORT": str(port),
        "TSUNAGU_INTAKE_URL": base,
        "TSUNAGU_ROUTING_URL": DEAD_ROUTING_URL,
        "TSUNAGU_RELAY_POLL_SECONDS": "0.2",
        "TSUNAGU_PINNED_DATE": str(intake_settings.pinned_date),
        "TSUNAGU_EXTRA": f'{{"consumer_group": "intake-served-{uuid.uuid4().hex[:8]}"}}',
    }
    log = (artefacts_root / "served-intake.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsunagu.shared.cli", "serve", "intake"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180  # a loaded machine imports slowly
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"intake exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"intake did not become ready; see {log.name}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def artefacts_root() -> Path:
    from tsunagu.devstack.infra import REPO_ROOT

    path = REPO_ROOT / "test-output" / "intake"
    path.mkdir(parents=True, exist_ok=True)
    return path
