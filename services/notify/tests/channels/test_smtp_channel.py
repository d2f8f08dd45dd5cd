"""SmtpChannel against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tsunagu.notify.adapters.channels import OutboundMessage, SmtpChannel, delivery_token
from tsunagu.notify.domain.retry import DeliveryStatus
from tsunagu.notify.templates import render
from tsunagu.shared.contracts.codes import Language

from .conftest import RecordingHandler, SmtpServer, free_port

NOW = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
CONTEXT = {
    "resident_name": "山田 花子",
    "council_name": "川口市社会福祉協議会",
    "council_phone": "048-000-0000",
    "case_number": "2025-0142",
    "programme": "life_independence",
    "contact_by": "2025-06-07",
}


def channel(server: SmtpServer, **overrides: object) -> SmtpChannel:
    settings: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "from_address": "川口市社協 <noreply@kawaguchi-shakyo.example.jp>",
        "timeout": 5.0,
        "clock": lambda: NOW,
    }
    settings.update(overrides)
    return SmtpChannel(**settings)  # type: ignore[arg-type]


def message(
    to: str = "hanako@example.jp", key: str = "evt-1:resident:c-1:acknowledgement"
) -> OutboundMessage:
    rendered = render("acknowledgement", "ja", CONTEXT)
    return OutboundMessage(
        dedup_key=key,
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        language=Language.JA,
    )


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_sends_utf8_japanese_mail_with_a_stable_message_id(smtp_server: SmtpServer) -> None:
    smtp = channel(smtp_server)
    result = await smtp.send(message())

    assert result.status is DeliveryStatus.SENT
    assert result.error is None
    [mail] = smtp_server.handler.received
    assert mail.mail_from == "noreply@kawaguchi-shakyo.example.jp"
    assert mail.rcpt_tos == ["hanako@example.jp"]

    raw_headers = mail.content.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()  # the Japanese subject travels RFC 2047 encoded
    assert b"=?utf-8?" in raw_headers.lower()

    parsed = parse(mail.content)
    assert parsed["Subject"] == "ご相談を受け付けました（川口市社会福祉協議会）"
    assert parsed["To"] == "hanako@example.jp"
    assert parsed["From"].addresses[0].display_name == "川口市社協"
    token = delivery_token("evt-1:resident:c-1:acknowledgement")
    assert parsed["Message-ID"] == f"<{token}@kawaguchi-shakyo.example.jp>"
    assert result.reference == parsed["Message-ID"]
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Content-Language"] == "ja"
    assert parsed["Date"].datetime == NOW

    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "山田 花子 様" in plain.get_content()
    assert "2025年6月7日（土）までに" in plain.get_content()
    assert '<html lang="ja">' in html.get_content()


async def test_the_same_dedup_key_gives_the_same_message_id(smtp_server: SmtpServer) -> None:
    smtp = channel(smtp_server)
    first = await smtp.send(message())
    again = await smtp.send(message())
    other = await smtp.send(message(key="evt-2:resident:c-1:acknowledgement"))
    ids = [parse(m.content)["Message-ID"] for m in smtp_server.handler.received]
    assert ids[0] == ids[1] != ids[2]
    assert first.reference == again.reference != other.reference


async def test_text_only_mail_has_no_html_part(smtp_server: SmtpServer) -> None:
    plain_message = OutboundMessage(
        dedup_key="evt-3:team:welfare_fund:new_referral",
        to="team@example.jp",
        subject="【至急】新しい紹介があります（受付番号 2025-0142）",
        text="本文\n",
    )
    result = await channel(smtp_server).send(plain_message)
    assert result.status is DeliveryStatus.SENT
    parsed = parse(smtp_server.handler.received[0].content)
    assert parsed.get_content_type() == "text/plain"
    assert parsed["Subject"].startswith("【至急】")


async def test_smtp_down_is_transient() -> None:
    smtp = SmtpChannel(
        host="127.0.0.1", port=free_port(), from_address="noreply@example.jp", timeout=2
    )
    result = await smtp.send(message())
    assert result.status is DeliveryStatus.TRANSIENT_FAILURE
    assert result.error is not None and result.error.startswith("smtp_unavailable")


async def test_a_refused_recipient_is_permanent_and_the_address_is_not_echoed(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.handler.rcpt_reply = "550 5.1.1 <hanako@example.jp>: Recipient address rejected"
    result = await channel(smtp_server).send(message())
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert result.error == "smtp_550 5.1.1"
    assert smtp_server.handler.received == []


async def test_a_4xx_reply_is_transient(smtp_server: SmtpServer) -> None:
    smtp_server.handler.data_reply = "451 4.3.0 Try again later"
    result = await channel(smtp_server).send(message())
    assert result.status is DeliveryStatus.TRANSIENT_FAILURE
    assert result.error == "smtp_451 4.3.0"


async def test_a_5xx_data_reply_is_permanent(smtp_server: SmtpServer) -> None:
    smtp_server.handler.data_reply = "554 5.7.1 Message rejected"
    result = await channel(smtp_server).send(message())
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert result.error == "smtp_554 5.7.1"


async def test_requiring_starttls_from_a_server_without_it_is_permanent(
    smtp_server: SmtpServer,
) -> None:
    result = await channel(smtp_server, starttls=True).send(message())
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert result.error is not None and result.error.startswith("smtp_setup")
    assert smtp_server.handler.received == []


async def test_no_address_is_permanent(smtp_server: SmtpServer) -> None:
    result = await channel(smtp_server).send(message(to=""))
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert result.error == "no_address"


async def test_logs_in_when_given_credentials() -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        # handled=False: let the server answer a refusal with its own 535.
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    handler = RecordingHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        server = SmtpServer(handler, controller.hostname, controller.port, controller)
        ok = await channel(server, username="notify", password="s3cret").send(message())
        refused = await channel(server, username="notify", password="wrong").send(message())
    finally:
        controller.stop()
    assert ok.status is DeliveryStatus.SENT
    assert logins[0] == (b"notify", b"s3cret")
    assert refused.status is DeliveryStatus.PERMANENT_FAILURE
    assert refused.error is not None and refused.error.startswith("smtp_535")
    assert len(handler.received) == 1


async def test_messages_share_an_open_connection(smtp_server: SmtpServer) -> None:
    smtp = channel(smtp_server)
    for n in range(5):
        result = await smtp.send(message(key=f"evt-{n}:resident:c-1:acknowledgement"))
        assert result.status is DeliveryStatus.SENT
    assert len(smtp_server.handler.received) == 5
    assert len({m.peer for m in smtp_server.handler.received}) == 1
    await smtp.close()


async def test_concurrent_messages_use_at_most_the_configured_connections(
    smtp_server: SmtpServer,
) -> None:
    smtp = channel(smtp_server, connections=2)
    results = await asyncio.gather(
        *(smtp.send(message(key=f"evt-{n}:resident:c-1:acknowledgement")) for n in range(12))
    )
    assert {r.status for r in results} == {DeliveryStatus.SENT}
    assert len(smtp_server.handler.received) == 12
    assert len({m.peer for m in smtp_server.handler.received}) <= 2
    await smtp.close()


async def test_a_connection_the_relay_closed_is_replaced(smtp_server: SmtpServer) -> None:
    smtp = channel(smtp_server)
    assert (await smtp.send(message())).status is DeliveryStatus.SENT
    # The relay goes away and comes back on the same port: the kept connection is dead.
    handler = RecordingHandler()
    restarted = Controller(handler, hostname=smtp_server.host, port=smtp_server.port)
    smtp_server.controller.stop()
    restarted.start()
    smtp_server.controller = restarted  # the fixture stops it
    result = await smtp.send(message(key="evt-2:resident:c-1:acknowledgement"))
    assert result.status is DeliveryStatus.SENT
    assert len(handler.received) == 1
    await smtp.close()


async def test_a_refused_message_does_not_spoil_the_next_one(smtp_server: SmtpServer) -> None:
    smtp = channel(smtp_server)
    smtp_server.handler.data_reply = "451 4.3.0 Try again later"
    assert (await smtp.send(message())).status is DeliveryStatus.TRANSIENT_FAILURE
    smtp_server.handler.data_reply = None
    assert (await smtp.send(message())).status is DeliveryStatus.SENT
    assert len(smtp_server.handler.received) == 1
    await smtp.close()


async def test_an_address_with_a_line_break_is_refused_before_anything_is_sent(
    smtp_server: SmtpServer,
) -> None:
    result = await channel(smtp_server).send(message(to="a@example.jp\r\nBcc: b@example.jp"))
    assert result.status is DeliveryStatus.PERMANENT_FAILURE
    assert result.error == "header_line_break"
    assert smtp_server.handler.received == []
