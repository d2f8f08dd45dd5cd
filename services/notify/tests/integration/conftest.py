"""Real infrastructure for notify's integration tests.

Kafka and PostgreSQL come from the shared fixtures (tsunagu.devstack.pytest_plugin); the SMTP
server (aiosmtpd) and the SMS provider (a small HTTP server) are started here, on free ports.
Topics are shared by the whole test session, so every test uses fresh case ids and looks
only at its own cases' messages.
"""

from __future__ import annotations

import asyncio
import email
import json
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tsunagu.notify.adapters.channels import delivery_token
from tsunagu.notify.bootstrap import NotifyRuntime, build_app, build_runtime
from tsunagu.notify.config import NotifyConfig
from tsunagu.shared import phones, testing
from tsunagu.shared.auth import Principal, issue_token
from tsunagu.shared.contracts.envelope import Envelope as BusEnvelope
from tsunagu.shared.contracts.topics import programme_topic_name
from tsunagu.shared.settings import Settings
from tsunagu.shared.testing import eventually as eventually  # the tests import it from here

from .events import new_case, referral_created

TEAM_DOMAIN = "team.tsunagu.example"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the clock -----------------------------------------------------------------------------


class TestClock:
    """A clock that starts where a test puts it and runs on with real time from there."""

    __test__ = False

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, moment: datetime) -> None:
        self._start = moment
        self._origin = datetime.now().astimezone()

    def __call__(self) -> datetime:
        return self._start + (datetime.now().astimezone() - self._origin)


# --- the SMTP server -----------------------------------------------------------------------


@dataclass
class Mail:
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        assert isinstance(body, EmailMessage)
        return str(body.get_content())


@dataclass
class SmtpServer:
    """A real SMTP server on 127.0.0.1; ``stop()`` and ``start()`` take it down and back."""

    port: int
    received: list[Mail] = field(default_factory=list)
    #: A reply such as "550 5.1.1 No such user" refuses every recipient.
    refuse: str | None = None
    _controller: Controller | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        self.received.append(Mail(list(envelope.rcpt_tos), message))
        return "250 2.0.0 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mails(
        self,
        *,
        to: str | None = None,
        containing: str | None = None,
        dedup_key: str | None = None,
    ) -> list[Mail]:
        return [
            m
            for m in list(self.received)
            if (to is None or to in m.rcpt_tos)
            and (containing is None or containing in m.subject or containing in m.text)
            and (dedup_key is None or m.message["Message-ID"] == message_id(dedup_key))
        ]


def message_id(dedup_key: str) -> str:
    """The Message-ID notify gives the email of ``dedup_key`` (from-address domain)."""
    return f"<{delivery_token(dedup_key)}@tsunagu.example>"


def resident_key(envelope: BusEnvelope, case_id: str, template: str) -> str:
    """The dedup key of the resident message ``envelope`` causes.

    Routing services of other test sessions read the same topics and route these test cases
    too, so a resident may get messages from their events as well: tests pick theirs by key.
    """
    return f"{envelope.event_id}:resident:{case_id}:{template}"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- the SMS provider ----------------------------------------------------------------------


@dataclass
class SmsProvider:
    """Records every POST; answers ``status``."""

    received: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/messages"

    def to(self, phone: str) -> list[dict[str, Any]]:
        """Requests to ``phone`` (as intake stores it; the provider is sent E.164)."""
        target = phones.e164(phone)
        return [r for r in list(self.received) if r["body"].get("to") == target]


@pytest.fixture
def sms() -> Iterator[SmsProvider]:
    state = SmsProvider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append({"headers": dict(self.headers), "body": json.loads(body)})
            reply = b'{"id": "ok"}'
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with testing.http_server(Handler) as state.port:
        yield state


# --- intake's key endpoint ----------------------------------------------------------------


@pytest.fixture
def key_server() -> Iterator[testing.IntakeKeyEndpoint]:
    """Intake's key endpoints on a real local port (``settings.internal_urls["intake"]`` to
    its ``url``); residents' values are sealed with ``key_server.keys``."""
    with testing.intake_keys() as endpoint:
        yield endpoint


# --- notify itself -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def consumer_name() -> str:
    """One consumer group per test session: other sessions on the broker keep their own."""
    return f"notify-it-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings(test_settings: Callable[..., Settings], migrated: Callable[[str], None]) -> Settings:
    migrated("notify")
    return test_settings("notify")


def notify_config(consumer_name: str, **overrides: Any) -> NotifyConfig:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": 1,
        "smtp_timeout_seconds": 5,
        "poll_seconds": 0.1,
        "retry_base_seconds": 0.2,
        "retry_cap_seconds": 0.5,
        "retry_max_attempts": 100,
        "lease_seconds": 30,
        "consumer_name": consumer_name,
        **overrides,
    }
    return NotifyConfig(**values)


@pytest.fixture
async def runtimes(smtp: SmtpServer) -> AsyncIterator[list[NotifyRuntime]]:
    """Runtimes a test starts; each is stopped at the end even if the test fails, before the
    SMTP server (which it may still be talking to) stops."""
    started: list[NotifyRuntime] = []
    yield started
    for runtime in started:
        await asyncio.wait_for(runtime.stop(), timeout=60)
        await runtime.engine.dispose()


@pytest.fixture
def start_notify(
    settings: Settings, consumer_name: str, runtimes: list[NotifyRuntime]
) -> Callable[..., Awaitable[NotifyRuntime]]:
    async def start(
        clock: Callable[[], datetime] | None = None,
        settings_: Settings | None = None,
        **config: Any,
    ) -> NotifyRuntime:
        runtime = build_runtime(
            settings_ or settings, clock, config=notify_config(consumer_name, **config)
        )
        runtimes.append(runtime)
        await runtime.start()
        return runtime

    return start


async def stop_notify(runtime: NotifyRuntime, runtimes: list[NotifyRuntime]) -> None:
    await runtime.stop()
    await runtime.engine.dispose()
    runtimes.remove(runtime)


def staff_token(settings: Settings, *roles: str) -> str:
    principal = Principal(username="sato", roles=frozenset(roles or ("intake",)))
    return issue_token(principal, settings.signing_key(), 3600)


def api(runtime: NotifyRuntime, *roles: str, token: bool = True) -> httpx.AsyncClient:
    """The service's app on an in-process transport (its lifespan is not run)."""
    headers = {"Authorization": f"Bearer {staff_token(runtime.settings, *roles)}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(runtime.settings, runtime)),
        base_url="http://notify.test",
        headers=headers,
    )


# --- Kafka ---------------------------------------------------------------------------------


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    async with testing.producer(kafka_bootstrap) as made:
        yield made


async def publish(
    producer: AIOKafkaProducer, topic: str, envelope: BusEnvelope | bytes, key: str
) -> None:
    await testing.publish(producer, topic, envelope, key=key)


async def publish_referral(
    producer: AIOKafkaProducer, programme: str = "life_independence"
) -> tuple[str, str]:
    """A new case's ``referral_created`` on ``programme``'s topic; its case id and number."""
    case_id, number = new_case()
    created = referral_created(case_id, number, programme)
    await publish(producer, programme_topic_name(programme), created, case_id)
    return case_id, number


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record on ``topic`` so far."""
    return await testing.read_records(bootstrap, topic)


def later(moment: datetime, **delta: float) -> datetime:
    return moment + timedelta(**delta)
