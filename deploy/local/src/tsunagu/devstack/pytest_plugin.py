"""Test fixtures: real Kafka and PostgreSQL, started once per test session.

Order: endpoints from TSUNAGU_KAFKA_BOOTSTRAP and TSUNAGU_DATABASE_URL; testcontainers where a
Docker engine answers; otherwise the local launcher on test ports (19092, 15432) with its own data
under var/test, so the suite also runs while ``make up`` is running.

The suite is hermetic: when this plugin loads, every ``TSUNAGU_*`` variable of the caller's shell
is removed from the environment except ``TEST_RUN_VARIABLES`` (which servers and ports the tests
use, where the tool caches are, how long the soak tests run). A ``TSUNAGU_DEMO_PASSWORD`` or
``TSUNAGU_ENV`` set for ``make up`` therefore never reaches the services under test; each test
sets the settings it needs itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from tsunagu.devstack.infra import REPO_ROOT, Infra, create_database, drop_database, start_infra
from tsunagu.shared.settings import Settings

#: The only TSUNAGU_* variables a test run takes from the caller's environment.
TEST_RUN_VARIABLES = frozenset(
    {
        "TSUNAGU_KAFKA_BOOTSTRAP",  # use this Kafka instead of starting one
        "TSUNAGU_DATABASE_URL",  # use this PostgreSQL server (the tests create their own database)
        "TSUNAGU_TEST_KAFKA_PORT",  # the launcher's test ports (Kafka also uses port + 1)
        "TSUNAGU_TEST_POSTGRES_PORT",
        "TSUNAGU_KEEP_TEST_INFRA",  # leave the test servers running after the session
        "TSUNAGU_CACHE_DIR",  # where the Kafka jars are cached
        "TSUNAGU_TOOLS_BIN",  # where the pinned kustomize is cached
        "TSUNAGU_CHAOS_CASES",  # size and seed of the chaos soak
        "TSUNAGU_CHAOS_SEED",
        "TSUNAGU_CHAOS_FAULT_CASES",  # cases per infrastructure fault (tests/chaos/test_faults)
        "TSUNAGU_CHAOS_PG_KILL_SECONDS",  # how long PostgreSQL stays killed, and stopped
        "TSUNAGU_CHAOS_PG_DOWN_SECONDS",
        "TSUNAGU_FUZZ_EXAMPLES",  # examples per operation of the OpenAPI fuzzing
    }
)


def scrub_environment(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Remove the caller's TSUNAGU_* settings from ``environ``; returns the names removed."""
    removed = sorted(k for k in environ if k.startswith("TSUNAGU_") and k not in TEST_RUN_VARIABLES)
    for name in removed:
        del environ[name]
    return removed


SCRUBBED = scrub_environment()

TEST_KAFKA_PORT = int(os.environ.get("TSUNAGU_TEST_KAFKA_PORT", "19092"))
TEST_POSTGRES_PORT = int(os.environ.get("TSUNAGU_TEST_POSTGRES_PORT", "15432"))
TEST_DATABASE = "tsunagu_test"


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Started once and shared by concurrent test sessions on this machine (each registers a
    pid file); the last session to finish stops what the launcher started."""
    root = REPO_ROOT / "var" / "test"
    users = root.parent / "test-users"
    users.mkdir(parents=True, exist_ok=True)
    me = users / str(os.getpid())
    with _locked(users / ".lock"):
        live = [p for p in users.iterdir() if p.name.isdigit() and _alive(p.name)]
        for stale in {p for p in users.iterdir() if p.name.isdigit()} - set(live):
            stale.unlink(missing_ok=True)
        me.touch()
        started = start_infra(
            root,
            kafka_port=TEST_KAFKA_PORT,
            postgres_port=TEST_POSTGRES_PORT,
            durable=False,
            fresh=not live,
        )
    yield started
    with _locked(users / ".lock"):
        me.unlink(missing_ok=True)
        others = [p for p in users.iterdir() if p.name.isdigit() and _alive(p.name)]
        if not others and os.environ.get("TSUNAGU_KEEP_TEST_INFRA") != "1":
            started.stop()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One session at a time starts or stops the shared test servers."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture(scope="session")
def kafka_bootstrap(infra: Infra) -> str:
    return infra.kafka_bootstrap


@pytest.fixture(scope="session")
async def database_url(infra: Infra) -> AsyncIterator[str]:
    """A database of this test session's own, dropped at the end."""
    name = f"{TEST_DATABASE}_{os.getpid()}"
    yield await create_database(infra.database_url, name, drop=True)
    await drop_database(infra.database_url, name)


@pytest.fixture(scope="session")
async def topics(kafka_bootstrap: str) -> list[str]:
    from tsunagu.shared.contracts.topics import all_topic_names
    from tsunagu.shared.kafka_admin import create_topics

    await create_topics(kafka_bootstrap)
    return list(all_topic_names())


@pytest.fixture(scope="session")
def test_settings(
    kafka_bootstrap: str, database_url: str, topics: list[str]
) -> Callable[..., Settings]:
    """Settings for a service under test, pointing at the test infrastructure, with a token
    key pair of this test session's own (every service in the process may sign, so tests can
    make any staff member's token)."""
    from tsunagu.shared.auth import generate_keypair
    from tsunagu.shared.clock import japan_today

    private, public = generate_keypair()
    # The session's services live on the day it began, even if it runs past midnight in Tokyo.
    day = japan_today()

    def make(service: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "service": service,
            "env": "test",
            "auth_private_key": private,
            "auth_public_key": public,
            "kafka_bootstrap": kafka_bootstrap,
            "database_url": database_url,
            "consumer_backoff_seconds": 0.05,
            "relay_poll_seconds": 0.2,
            "db_pool_size": 10,
            "pinned_date": day,
            **overrides,
        }
        if values["env"] == "prod" and "pinned_date" not in overrides:
            del values["pinned_date"]  # prod refuses a pinned date
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def migrated(database_url: str) -> Callable[[str], None]:
    """Migrate a service's schema once per session: ``migrated("routing")``."""
    from tsunagu.shared.migrations import upgrade

    done: set[str] = set()

    def run(service: str) -> None:
        if service not in done:
            upgrade(service, database_url)
            done.add(service)

    return run


@pytest.fixture
def artefacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where a test keeps what a person should look at (screenshots, reports)."""
    path = REPO_ROOT / "test-output" / request.node.name.replace("/", "_")
    path.mkdir(parents=True, exist_ok=True)
    return path


def pytest_report_header() -> str | None:
    if SCRUBBED:
        return "tsunagu: ignored from the environment: " + ", ".join(SCRUBBED)
    return None
