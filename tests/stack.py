"""The whole system for cross-service tests: its own Kafka and PostgreSQL, the four services as
processes, and the outside world they talk to (an SMTP server, an SMS provider) played by real
local servers that record what they receive."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pyotp
from aiosmtpd.controller import Controller

from tsunagu.devstack.infra import REPO_ROOT, Infra, create_database, start_infra
from tsunagu.devstack.keys import key_env
from tsunagu.devstack.processes import SERVICES, ServiceProcess
from tsunagu.devstack.roles import create_service_roles, grant_service_roles
from tsunagu.intake.adapters.totp import Authenticator
from tsunagu.shared.clock import JAPAN, japan_today
from tsunagu.shared.db import asyncpg_dsn
from tsunagu.shared.kafka_admin import create_topics
from tsunagu.shared.migrations import upgrade

DEMO_PASSWORD = "e2e-demo-password"
#: The demo admin's second factor on test stacks (admins must have one).
DEMO_TOTP_SECRET = pyotp.random_base32()


_ADMIN_APP = Authenticator(DEMO_TOTP_SECRET)


def otp_for(username: str) -> str | None:
    """A fresh TOTP code for the demo admin (a code signs in once; this waits for the clock
    when the usable ones are spent); None for staff without a second factor."""
    if username != "admin":
        return None
    given = _ADMIN_APP.code_or_wait(datetime.now(UTC))
    if isinstance(given, float):  # both usable codes given: the next step brings a new one
        time.sleep(given)
        given = _ADMIN_APP.code_or_wait(datetime.now(UTC))
    assert isinstance(given, str)
    return given


def to_midday_in_tokyo(now: datetime | None = None) -> int:
    """Seconds from ``now`` to the next 12:00 in Tokyo.

    The stack's notify runs this far ahead of real time (``TSUNAGU_NOTIFY_CLOCK_OFFSET_SECONDS``,
    a test-only setting), so that whatever the hour a run starts, resident messages are due at
    once and the tests see them sent: between 21:00 and 08:00 Tokyo notify holds every resident
    message until morning. A run of the suite lasts well under nine hours of notify's time,
    so it never reaches 21:00. Quiet hours themselves are tested in notify's own tests, on
    injected clocks.
    """
    now = (now or datetime.now(UTC)).astimezone(JAPAN)
    midday = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if midday <= now:
        midday += timedelta(days=1)
    return int((midday - now).total_seconds())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = free_port()
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address_part: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address_part in str(m["To"])]


class SmsSink:
    """A real HTTP server standing in for the SMS provider; records each request body."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                sink.requests.append(self.rfile.read(length))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"queued"}')

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()


@dataclass
class Stack:
    infra: Infra
    database_url: str
    smtp: SmtpSink
    sms: SmsSink
    log_dir: Path
    keys_dir: Path
    #: Each service's own database URL (its role sees only its schema); ``database_url`` is the
    #: owner's, for the tests' own queries.
    service_urls: dict[str, str] = field(default_factory=dict)
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The admin's token, signed in once: a TOTP code signs in once, so tests share it.
    admin_token: str | None = None
    #: How far ahead of real time notify runs (see ``to_midday_in_tokyo``); fixed for the
    #: stack's life, so that a restarted notify does not step back in time.
    notify_clock_offset: int = field(default_factory=to_midday_in_tokyo)
    #: The day the stack lives on (``TSUNAGU_PINNED_DATE``, a test-only setting): the date in
    #: Tokyo when it was built. Its services take residents in at this day's events, and
    #: tests name this day's events, even when a run passes midnight in Tokyo.
    today: date = field(default_factory=japan_today)

    def url(self, service: str) -> str:
        return self.procs[service].url

    def env(self) -> dict[str, str]:
        ports = {s: p.port for s, p in self.procs.items()}
        return {
            "TSUNAGU_ENV": "test",
            "TSUNAGU_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
            "TSUNAGU_DATABASE_URL": self.database_url,
            "TSUNAGU_INTAKE_URL": f"http://127.0.0.1:{ports['intake']}",
            "TSUNAGU_ROUTING_URL": f"http://127.0.0.1:{ports['routing']}",
            "TSUNAGU_NOTIFY_URL": f"http://127.0.0.1:{ports['notify']}",
            "TSUNAGU_FOOD_URL": f"http://127.0.0.1:{ports['food_distribution']}",
            "TSUNAGU_DEMO_PASSWORD": DEMO_PASSWORD,
            "TSUNAGU_DEMO_TOTP_SECRET": DEMO_TOTP_SECRET,
            "TSUNAGU_CONSUMER_BACKOFF_SECONDS": "0.1",
            "TSUNAGU_RELAY_POLL_SECONDS": "0.5",
            "TSUNAGU_NOTIFY_SMTP_HOST": "127.0.0.1",
            "TSUNAGU_NOTIFY_SMTP_PORT": str(self.smtp.port),
            "TSUNAGU_NOTIFY_SMS_ENDPOINT": f"http://127.0.0.1:{self.sms.port}/messages",
            "TSUNAGU_NOTIFY_SMS_API_KEY": "e2e-sms-key",
            "TSUNAGU_NOTIFY_POLL_SECONDS": "0.2",
            "TSUNAGU_NOTIFY_CLOCK_OFFSET_SECONDS": str(self.notify_clock_offset),
            "TSUNAGU_PINNED_DATE": self.today.isoformat(),
            "TSUNAGU_ROUTING_SCAN_INTERVAL_SECONDS": "0.5",
        }

    def start(self, service: str, **env: str) -> ServiceProcess:
        proc = self.procs[service]
        proc.env = {
            **self.env(),
            **key_env(service, self.keys_dir),
            "TSUNAGU_DATABASE_URL": self.service_urls.get(service, self.database_url),
            **self.extra_env.get(service, {}),
            **env,
        }
        proc.start()
        return proc

    def start_all(self) -> None:
        for service in SERVICES:
            self.start(service)
        for service in SERVICES:
            self.procs[service].wait_ready(120)

    def restart(self, service: str, **env: str) -> None:
        self.procs[service].stop()
        self.start(service, **env)
        self.procs[service].wait_ready(120)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def token(self, username: str) -> str:
        if username == "admin" and self.admin_token is not None:
            return self.admin_token
        token, _ = self._sign_in(username)
        if username == "admin":
            self.admin_token = token
        return token

    def _sign_in(self, username: str) -> tuple[str, float]:
        """A fresh API token for ``username`` and the seconds it lasts."""
        data = {"username": username, "password": DEMO_PASSWORD}
        otp = otp_for(username)
        if otp is not None:
            data["otp"] = otp
        response = httpx.post(self.url("intake") + "/api/v1/auth/token", data=data, timeout=30)
        response.raise_for_status()
        body = response.json()
        return str(body["access_token"]), float(body["expires_in"])

    def signed_in(self, username: str) -> SignedIn:
        """A sign-in for runs longer than a token lasts (see ``SignedIn``)."""
        return SignedIn(self, username)

    def client(self, service: str, username: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url(service),
            headers={"Authorization": f"Bearer {self.token(username)}"},
            timeout=30,
        )

    def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        return asyncio.run(run())


class SignedIn:
    """One staff member's API sign-in that signs in again before its token expires, as a
    long-running API client must (intake's tokens last ``expires_in`` seconds, 30 minutes by
    default). ``str()`` and f-strings give the current token, so it stands in for one."""

    def __init__(self, stack: Stack, username: str) -> None:
        self._stack = stack
        self._username = username
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0

    def __str__(self) -> str:
        with self._lock:
            if time.monotonic() >= self._renew_at:
                self._token, lasts = self._stack._sign_in(self._username)
                self._renew_at = time.monotonic() + lasts * 0.8
            return self._token


def free_port_pair() -> int:
    """A port p with p + 1 free as well (Kafka's broker and controller listeners)."""
    for _ in range(100):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port pair")


def free_port_run(count: int) -> int:
    """A port p with p .. p + count - 1 all free (a Kafka cluster's listeners)."""
    for _ in range(100):
        first = free_port()
        sockets = []
        try:
            for port in range(first, first + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return first
    raise RuntimeError(f"no run of {count} free ports")


def build_stack(name: str, *, kafka_brokers: int = 1, durable: bool = False) -> Stack:
    """Infrastructure of its own (so history from other tests cannot leak in), migrated, with
    demo data; the services are started by the caller. Ports and data are this process's own,
    so stacks of concurrent test sessions never meet. ``kafka_brokers=3``: a three-node Kafka
    cluster with the production manifests' replication. ``durable``: PostgreSQL with fsync and
    synchronous commits, as in production (a test that kills PostgreSQL needs it: without it a
    commit already answered can be lost with the server's memory)."""
    name = f"{name}-{os.getpid()}"
    kafka_port = free_port_pair() if kafka_brokers == 1 else free_port_run(2 * kafka_brokers)
    postgres_port = free_port()
    root = REPO_ROOT / "var" / name
    infra = start_infra(
        root, kafka_port=kafka_port, postgres_port=postgres_port, durable=durable,
        allow_containers=False, fresh=True, kafka_brokers=kafka_brokers,
    )  # fmt: skip
    database_url = asyncio.run(create_database(infra.database_url, "tsunagu", drop=True))
    asyncio.run(create_topics(infra.kafka_bootstrap))
    for service in SERVICES:
        upgrade(service, database_url)
    service_urls = asyncio.run(create_service_roles(database_url))
    asyncio.run(grant_service_roles(database_url))
    smtp, sms = SmtpSink(), SmsSink()
    smtp.start()
    sms.start()
    log_dir = REPO_ROOT / "test-output" / name / "logs"
    stack = Stack(
        infra=infra,
        database_url=database_url,
        smtp=smtp,
        sms=sms,
        log_dir=log_dir,
        keys_dir=root / "keys",
        service_urls=service_urls,
    )
    stack.procs = {s: ServiceProcess(s, {}, log_dir, port=free_port()) for s in SERVICES}
    subprocess.run(
        [sys.executable, "-m", "tsunagu.intake.demo"],
        env={**os.environ, **stack.env()},
        check=True,
        capture_output=True,
    )
    return stack


def teardown_stack(stack: Stack) -> None:
    stack.stop()
    stack.smtp.stop()
    stack.sms.stop()
    stack.infra.stop()
    if stack.infra.kafka is not None:
        shutil.rmtree(stack.infra.kafka.data_dir.parent, ignore_errors=True)


def wait_for(check: Any, timeout: float = 60.0, interval: float = 0.3, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    started = time.monotonic()
    while time.monotonic() < deadline:
        last = check()
        if last:
            print(f"[stack] {what or 'condition'}: {time.monotonic() - started:.1f}s", flush=True)
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or check}; last value: {str(last)[:500]}")
