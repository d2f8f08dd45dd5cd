"""Each service runs as its own process and is ready only when Kafka and its database answer."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from tsunagu.devstack.processes import SERVICES, ServiceProcess

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def migrated_all(migrated, topics) -> None:
    for service in SERVICES:
        migrated(service)


@pytest.mark.parametrize("service", SERVICES)
def test_service_is_ready_with_kafka_and_database(
    service, migrated_all, kafka_bootstrap, database_url, tmp_path
):
    env = {
        "TSUNAGU_ENV": "test",
        "TSUNAGU_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "TSUNAGU_DATABASE_URL": database_url,
    }
    proc = ServiceProcess(service, env, tmp_path, port=free_port())
    proc.start()
    try:
        proc.wait_ready(90)
        status, body = get(proc.url + "/readyz")
        assert status == 200
        assert {"database", "kafka", "consumers"} <= set(body["checks"])
        assert set(body["checks"].values()) == {"ok"}
    finally:
        proc.stop()
    assert proc.process is not None
    # uvicorn re-raises SIGTERM after its graceful shutdown
    assert proc.process.returncode in (0, -15), "a clean stop on SIGTERM"


@pytest.mark.parametrize("service", SERVICES)
def test_service_is_alive_but_not_ready_without_its_database_or_kafka(
    service, kafka_bootstrap, tmp_path
):
    dead_db = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/tsunagu"
    dead_kafka = f"127.0.0.1:{free_port()}"
    env = {
        "TSUNAGU_ENV": "test",
        "TSUNAGU_KAFKA_BOOTSTRAP": dead_kafka,
        "TSUNAGU_DATABASE_URL": dead_db,
    }
    proc = ServiceProcess(service, env, tmp_path, port=free_port())
    proc.start()
    try:
        status = 0
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                status, _ = get(proc.url + "/healthz")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200, "alive: the process serves /healthz"
        status, body = get(proc.url + "/readyz")
        assert status == 503
        assert body["checks"]["database"] == "unavailable"
        assert body["checks"]["kafka"] == "unavailable"
    finally:
        proc.stop()
