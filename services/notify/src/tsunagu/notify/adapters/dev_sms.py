"""The dev SMS sink: a small HTTP server in the notify process that keeps every SMS it gets.

Started in dev mode (``TSUNAGU_ENV=dev``) when no SMS provider is configured, on 127.0.0.1 only,
port ``TSUNAGU_NOTIFY_DEV_SMS_PORT`` (1026). It speaks the provider API the SMS channel uses
(``POST /messages`` with ``{to, body, idempotency_key}``), and the channel points at it, so an
SMS-only resident's messages really go over HTTP and can be read on ``/dev/sms``. A repeated
idempotency key is kept once, as a provider would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

_MAX_BODY = 64 * 1024
_REASONS = {202: "Accepted", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}


class DevSmsSink:
    """A background job (``start``/``stop``) serving the provider API into ``dev_sms``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        *,
        host: str = "127.0.0.1",
        port: int = 1026,
    ) -> None:
        self.sessions = sessions
        self.table = table
        self.host = host
        self.port = port
        self._server: asyncio.AbstractServer | None = None

    #: The bearer key the SMS channel sends; the sink takes any.
    api_key = "dev-sms-sink"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/messages"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            log.warning("dev_sms_sink_unavailable", port=self.port, error=type(exc).__name__)
            return
        log.info("dev_sms_sink_listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: the channel's client may reuse the connection
                status = await self._one_request(reader)
                if status is None:
                    break
                reply = json.dumps({"status": _REASONS[status].lower()}).encode()
                writer.write(
                    f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(reply)}\r\n\r\n".encode()
                    + reply
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader) -> int | None:
        request_line = await reader.readline()
        if not request_line:
            return None
        method, path, *_ = [*request_line.decode("latin-1").split(" "), "", ""]
        length = 0
        while True:
            line = (await reader.readline()).decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip() or 0)
        if length > _MAX_BODY:
            return 413
        raw = await reader.readexactly(length) if length else b""
        if method != "POST" or path.split("?")[0] != "/messages":
            return 404
        try:
            body: Any = json.loads(raw)
            to, text, key = str(body["to"]), str(body["body"]), str(body["idempotency_key"])
        except (ValueError, KeyError, TypeError):
            return 400
        async with self.sessions() as db, db.begin():
            await db.execute(
                insert(self.table)
                .values(to_number=to, body=text, idempotency_key=key)
                .on_conflict_do_nothing(index_elements=[self.table.c.idempotency_key])
            )
        return 202
