"""Real local servers for the channel tests: an SMTP server (aiosmtpd) and an HTTP server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tsunagu.shared import testing


def free_port() -> int:
    """A port nothing listens on (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    peer: Any = None  # the client's (host, port): which connection carried it


@dataclass
class RecordingHandler:
    """Accepts mail and keeps it; ``rcpt_reply`` / ``data_reply`` make the server refuse."""

    received: list[ReceivedMail] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        content = envelope.content
        assert isinstance(content, bytes)
        self.received.append(
            ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), content, session.peer)
        )
        return "250 2.0.0 Message accepted for delivery"


@dataclass
class SmtpServer:
    handler: RecordingHandler
    host: str
    port: int
    controller: Controller


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    server = SmtpServer(handler, controller.hostname, controller.port, controller)
    try:
        yield server
    finally:
        server.controller.stop()  # a test may have replaced it


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpServer:
    """A small real HTTP server: records every POST, answers with ``status`` after ``delay``."""

    received: list[ReceivedRequest] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    port: int = 0

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    state = HttpServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(ReceivedRequest(self.path, dict(self.headers), body))
            time.sleep(state.delay)
            reply = json.dumps({"id": f"msg-{len(state.received)}"}).encode()
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, which is what the timeout test wants

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with testing.http_server(Handler) as state.port:
        yield state
