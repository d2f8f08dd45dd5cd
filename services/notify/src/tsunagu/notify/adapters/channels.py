"""Channel adapters: email over SMTP, SMS over an HTTP API, print letters, call lists, chat.

Every adapter turns an ``OutboundMessage`` into a ``DeliveryResult`` and never raises for a
delivery problem: failures come back as transient (retry later) or permanent (try the next
channel). Error strings are codes such as ``smtp_550 5.1.1`` or ``http_503``, never the
remote server's text, which often repeats the recipient's address.

Each message carries its dedup key; adapters pass a hash of it to the receiver (Message-ID,
idempotency key) so that a retry after a lost acknowledgement can be recognised there too,
without handing the event and case ids to a third party.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, Protocol

import aiosmtplib
import httpx

from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.notify.domain.retry import DeliveryStatus, classify_http_status, classify_smtp_reply
from tsunagu.notify.templates import render_letter
from tsunagu.shared import phones
from tsunagu.shared.contracts.codes import ContactTime, Language


@dataclass(frozen=True)
class OutboundMessage:
    """A rendered message on its way to one address on one channel."""

    dedup_key: str
    #: The address on this channel: email address, phone number, postal address, or for the
    #: webhook the team's programme code.
    to: str = field(repr=False)
    subject: str
    text: str = field(repr=False)
    html: str | None = field(default=None, repr=False)
    language: Language = Language.JA
    recipient_name: str | None = field(default=None, repr=False)  # letters and call lists
    preferred_time: ContactTime = ContactTime.ANY  # call lists


@dataclass(frozen=True)
class CallListEntry:
    """A phone call for staff to make, with what to say."""

    dedup_key: str
    phone: str = field(repr=False)
    recipient_name: str | None = field(repr=False)
    language: Language
    preferred_time: ContactTime
    interpreter_needed: bool
    script: str = field(repr=False)


@dataclass(frozen=True)
class DeliveryResult:
    status: DeliveryStatus
    error: str | None = None
    reference: str | None = None  # Message-ID or idempotency key the receiver saw
    document: str | None = field(default=None, repr=False)  # letter: HTML to queue for print
    call: CallListEntry | None = None  # phone: the entry to add to the call list

    @property
    def ok(self) -> bool:
        return self.status is DeliveryStatus.SENT


class Channel(Protocol):
    async def send(self, message: OutboundMessage) -> DeliveryResult: ...


def delivery_token(dedup_key: str) -> str:
    """A stable opaque token for a dedup key: same key, same token."""
    return hashlib.sha256(dedup_key.encode()).hexdigest()[:32]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _failed(status: DeliveryStatus, error: str) -> DeliveryResult:
    return DeliveryResult(status=status, error=error)


_NO_ADDRESS = _failed(DeliveryStatus.PERMANENT_FAILURE, "no_address")


# --- email ------------------------------------------------------------------------------

_LINE_BREAK = re.compile(r"[\r\n]")
_ENHANCED_STATUS = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")


class SmtpChannel:
    """Email through an SMTP relay; the Message-ID is derived from the dedup key.

    Connections are kept open and reused (at most ``connections`` at once), so a batch of
    messages costs one connect, EHLO (and STARTTLS and AUTH) per connection, not per message.
    A connection idle for longer than ``idle_seconds`` is closed rather than reused: relays
    drop idle clients. If a reused connection turns out to be closed, the message is sent
    once more on a new one. A connection on which anything failed is closed, never reused.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        from_address: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
        connections: int = 4,
        idle_seconds: float = 30.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._host = host
        self._port = port
        self._from = from_address
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._idle_seconds = idle_seconds
        self._clock = clock
        name, address = parseaddr(from_address)
        self._domain = address.rpartition("@")[2] or "localhost"
        self._from_header = formataddr((name, address), charset="utf-8")
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    def message_id(self, dedup_key: str) -> str:
        return f"<{delivery_token(dedup_key)}@{self._domain}>"

    def build(self, message: OutboundMessage) -> Message:
        """The MIME message: RFC 2047 encoded headers, UTF-8 bodies in base64, a plain part and
        (if given) an HTML alternative.

        Built with the standard library's compat32 classes rather than ``EmailMessage``: the
        same on the wire and about three times faster (its header parsing and folding was a
        tenth of notify's CPU under load: benchmarks/README.md).
        """
        email: Message
        if message.html is None:
            email = MIMEText(message.text, "plain", "utf-8")
        else:
            email = MIMEMultipart("alternative")
            email.attach(MIMEText(message.text, "plain", "utf-8"))
            email.attach(MIMEText(message.html, "html", "utf-8"))
        email["From"] = self._from_header
        email["To"] = message.to
        email["Subject"] = Header(message.subject, "utf-8")
        email["Date"] = format_datetime(self._clock())
        email["Message-ID"] = self.message_id(message.dedup_key)
        # RFC 3834: stops out-of-office replies coming back to the relay.
        email["Auto-Submitted"] = "auto-generated"
        language = Language.JA if message.language is Language.JA_EASY else message.language
        email["Content-Language"] = language.value
        return email

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        if not message.to:
            return _NO_ADDRESS
        if _LINE_BREAK.search(message.to) or _LINE_BREAK.search(message.subject):
            return _failed(DeliveryStatus.PERMANENT_FAILURE, "header_line_break")
        email = self.build(message)
        try:
            async with self._slots:
                await self._send_on_a_connection(email)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return _smtp_failure(max(r.code for r in exc.recipients), exc.recipients[0].message)
        except aiosmtplib.SMTPResponseException as exc:
            return _smtp_failure(exc.code, exc.message)
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
            OSError,
        ) as exc:
            error = f"smtp_unavailable {type(exc).__name__}"
            return _failed(DeliveryStatus.TRANSIENT_FAILURE, error)
        except aiosmtplib.SMTPException as exc:
            # The relay's set-up does not match ours (no STARTTLS, no AUTH): retrying won't help.
            error = f"smtp_setup {type(exc).__name__}"
            return _failed(DeliveryStatus.PERMANENT_FAILURE, error)
        return DeliveryResult(DeliveryStatus.SENT, reference=email["Message-ID"])

    async def close(self) -> None:
        """Say QUIT on every idle connection (at shutdown)."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            await _quit(client)

    async def _send_on_a_connection(self, email: Message) -> None:
        client, reused = await self._checkout()
        try:
            await client.send_message(email)
        except aiosmtplib.SMTPServerDisconnected:
            await _quit(client)
            if not reused:
                raise
            # The relay closed a connection we kept: once more, on a new one.
            client = await self._connect()
            try:
                await client.send_message(email)
            except BaseException:
                await _quit(client)
                raise
        except BaseException:
            await _quit(client)
            raise
        self._idle.append((client, time.monotonic()))

    async def _checkout(self) -> tuple[aiosmtplib.SMTP, bool]:
        now = time.monotonic()
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and now - since < self._idle_seconds:
                return client, True
            await _quit(client)
        return await self._connect(), False

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            timeout=self._timeout,
        )
        await client.connect()
        return client


async def _quit(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


def _smtp_failure(code: int, server_text: str) -> DeliveryResult:
    error = f"smtp_{code}"
    enhanced = _ENHANCED_STATUS.search(server_text or "")
    if enhanced:
        error += f" {enhanced.group()}"
    status = classify_smtp_reply(code)
    if status is DeliveryStatus.SENT:  # a 2xx/3xx reply raised as an error is still a failure
        status = DeliveryStatus.TRANSIENT_FAILURE
    return _failed(status, error)


# --- HTTP: SMS and chat webhooks --------------------------------------------------------


async def _post_json(
    url: str,
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
    seconds: float,
    client: httpx.AsyncClient | None,
    reference: str,
) -> DeliveryResult:
    try:
        if client is not None:
            response = await client.post(url, json=payload, headers=headers, timeout=seconds)
        else:
            async with httpx.AsyncClient(timeout=seconds) as own_client:
                response = await own_client.post(url, json=payload, headers=headers)
    except httpx.TimeoutException:
        return _failed(DeliveryStatus.TRANSIENT_FAILURE, "timeout")
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        return _failed(DeliveryStatus.PERMANENT_FAILURE, "bad_endpoint")
    except httpx.HTTPError as exc:
        return _failed(DeliveryStatus.TRANSIENT_FAILURE, f"http_unavailable {type(exc).__name__}")
    status = classify_http_status(response.status_code)
    if status is DeliveryStatus.SENT:
        return DeliveryResult(status, reference=reference)
    return _failed(status, f"http_{response.status_code}")


class SmsHttpChannel:
    """SMS through a provider's HTTP API: POST {to, body, idempotency_key} with a bearer key.

    ``to`` is in E.164 (``+819012345678``); a number that is not a mobile fails permanently as
    ``sms_not_mobile`` without a request.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        api_key: str,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._api_key = api_key
        self._timeout = timeout
        self._client = client

    def __repr__(self) -> str:  # keeps the key out of logs
        return f"SmsHttpChannel(endpoint={self._endpoint!r})"

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        if not message.to:
            return _NO_ADDRESS
        if not phones.is_mobile(message.to):
            # A landline (or no real number) cannot take an SMS: no point asking the provider.
            return _failed(DeliveryStatus.PERMANENT_FAILURE, "sms_not_mobile")
        token = delivery_token(message.dedup_key)
        to = phones.e164(message.to)  # providers take E.164: +819012345678
        payload = {"to": to, "body": message.text, "idempotency_key": token}
        headers = {"Authorization": f"Bearer {self._api_key}"}
        return await _post_json(
            self._endpoint, payload, headers, self._timeout, self._client, token
        )


class WebhookChannel:
    """A team's chat room (Slack, Mattermost, Google Chat style ``{"text": ...}`` webhooks).

    ``urls`` maps a programme code to its team's webhook URL; the message's ``to`` is the code.
    Staff messages only: they carry a case number and a link, no personal data.
    """

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._urls = dict(urls)
        self._timeout = timeout
        self._client = client

    def __repr__(self) -> str:  # webhook URLs are secrets
        return f"WebhookChannel(teams={sorted(self._urls)!r})"

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        url = self._urls.get(message.to)
        if not url:
            return _failed(DeliveryStatus.PERMANENT_FAILURE, "no_webhook")
        payload = {"text": f"{message.subject}\n\n{message.text}"}
        token = delivery_token(message.dedup_key)
        return await _post_json(url, payload, {}, self._timeout, self._client, token)


# --- letters and phone calls: documents for staff, no I/O -------------------------------


class LetterChannel:
    """Renders a print-ready A4 letter; the caller queues the document for printing."""

    def __init__(
        self, *, sender_lines: Sequence[str], clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._sender_lines = tuple(sender_lines)
        self._clock = clock

    def letter(self, message: OutboundMessage) -> str:
        return render_letter(
            subject=message.subject,
            text=message.text,
            language=message.language,
            recipient_name=message.recipient_name,
            recipient_address=message.to,
            sender_lines=self._sender_lines,
            letter_date=self._clock().astimezone(TOKYO).date(),
        )

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        if not message.to.strip():
            return _NO_ADDRESS
        document = self.letter(message)
        token = delivery_token(message.dedup_key)
        return DeliveryResult(DeliveryStatus.SENT, reference=token, document=document)


_LANGUAGE_NAMES_JA: dict[Language, str] = {
    Language.JA: "日本語",
    Language.JA_EASY: "やさしい日本語",
    Language.EN: "英語",
    Language.ZH: "中国語",
    Language.VI: "ベトナム語",
}
_CONTACT_TIMES_JA: dict[ContactTime, str] = {
    ContactTime.ANY: "指定なし（8〜21時）",
    ContactTime.MORNING: "午前（8〜12時）",
    ContactTime.AFTERNOON: "午後（12〜17時）",
    ContactTime.EVENING: "夕方（17〜21時）",
}


class PhoneCallChannel:
    """Adds a call for staff to make, with a short script in Japanese around the message."""

    async def send(self, message: OutboundMessage) -> DeliveryResult:
        if not message.to:
            return _NO_ADDRESS
        interpreter = message.language not in (Language.JA, Language.JA_EASY)
        entry = CallListEntry(
            dedup_key=message.dedup_key,
            phone=message.to,
            recipient_name=message.recipient_name,
            language=message.language,
            preferred_time=message.preferred_time,
            interpreter_needed=interpreter,
            script=call_script(message, interpreter),
        )
        token = delivery_token(message.dedup_key)
        return DeliveryResult(DeliveryStatus.SENT, reference=token, call=entry)


def call_script(message: OutboundMessage, interpreter_needed: bool) -> str:
    lines = [
        f"【電話連絡】{message.subject}",
        f"希望の時間帯：{_CONTACT_TIMES_JA[message.preferred_time]}",
        f"言語：{_LANGUAGE_NAMES_JA[message.language]}",
    ]
    if interpreter_needed:
        lines.append("※ 通訳の手配を確認してから電話してください。")
    if message.language is Language.JA_EASY:
        lines.append("※ 短い文で、ゆっくり、はっきり話してください。")
    lines += [
        "",
        "ご本人であることを確認してから、次の内容をお伝えください。",
        "不在の場合、留守番電話には相談の内容を残さず、折り返し先だけを伝えてください。",
        "----",
        message.text.strip(),
        "----",
        "通話の結果（伝達済み・不在・折り返し希望）を記録してください。",
    ]
    return "\n".join(lines) + "\n"
