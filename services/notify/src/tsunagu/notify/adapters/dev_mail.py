"""The dev mail catcher: an SMTP server in the notify process that keeps every email it gets.

Started in dev mode (``TSUNAGU_ENV=dev``, as ``make up`` runs the services) when no SMTP relay
is configured. It listens on 127.0.0.1 only, on ``TSUNAGU_NOTIFY_SMTP_PORT`` (1025), and the
sender's email channel points at it, so a new user can read every message the system sends on
``/dev/mail``. It runs on the service's own event loop: no thread, no second database engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
from email.policy import default
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.shared.logs import get_logger

log = get_logger(__name__)


class DevMailCatcher:
    """A background job (``start``/``stop``) serving SMTP into the ``dev_mail`` table."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        *,
        host: str = "127.0.0.1",
        port: int = 1025,
    ) -> None:
        self.sessions = sessions
        self.table = table
        self.host = host
        self.port = port
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: SMTP(
                    self,
                    hostname="tsunagu-dev",  # not the FQDN lookup, which can hang offline
                    ident="Tsunagu dev mail catcher",
                    enable_SMTPUTF8=True,
                ),
                host=self.host,
                port=self.port,
            )
        except OSError as exc:
            # Another process holds the port: the service still runs; mail goes there.
            log.warning("dev_mail_catcher_unavailable", port=self.port, error=type(exc).__name__)
            return
        log.info("dev_mail_catcher_listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            self._server = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: Any = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else str(content).encode()
        message = email.message_from_bytes(raw, policy=default)
        async with self.sessions() as db, db.begin():
            await db.execute(
                self.table.insert().values(
                    mail_from=str(envelope.mail_from or ""),
                    rcpt_tos=list(envelope.rcpt_tos),
                    subject=str(message.get("Subject", "")),
                    message_id=str(message.get("Message-ID", "")) or None,
                    content=raw.decode("utf-8", errors="replace"),
                )
            )
        return "250 2.0.0 Message accepted for delivery"
