"""SmsHttpChannel and WebhookChannel against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from tsunagu.notify.adapters.channels import (
    OutboundMessage,
    SmsHttpChannel,
    WebhookChannel,
    delivery_token,
)
from tsunagu.notify.domain.retry import DeliveryStatus

from .conftest import HttpServer, free_port

SMS = OutboundMessage(
    dedup_key="evt-1:resident:c-1:programme_accepted",
    to="09012345678",
    subject="相談（そうだん）の 係（かかり）が 決（き）まりました",
    text="あなたの 相談（そうだん）は、生活自立（せいかつじりつ）サポートセンターが 担当（たんとう）します。\n",
)
TEAM_MESSAGE = OutboundMessage(
    dedup_key="evt-2:team:life_independence:new_referral",
    to="life_independence",
    subject="【至急】新しい紹介があります（受付番号 2025-0142）",
    text="受付番号：2025-0142\nhttps://tsunagu.example.jp/cases/c-1\n",
)


def sms(server: HttpServer, **overrides: object) -> SmsHttpChannel:
    settings: dict[str, object] = {
        "endpoint": server.url("/v1/messages"),
        "api_key": "test-key",
        "timeout": 2.0,
    }
    settings.update(overrides)
    return SmsHttpChannel(**settings)  # type: ignore[arg-type]


async def test_sms_posts_json_with_bearer_key_and_idempotency_key(http_server: HttpServer) -> None:
    result = await sms(http_server).send(SMS)

    assert result.status is DeliveryStatus.SENT
    [request] = http_server.received
    assert request.path == "/v1/messages"
    assert request.headers["Authorization"] == "Bearer test-key"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "to": "+819012345678",  # E.164, as providers take it
        "body": SMS.text,
        "idempotency_key": delivery_token(SMS.dedup_key),
    }
    assert result.reference == delivery_token(SMS.dedup_key)


async def test_a_retry_carries_the_same_idempotency_key(http_server: HttpServer) -> None:
    http_server.status = 503
    first = await sms(http_server).send(SMS)
    http_server.status = 202
    second = await sms(http_server).send(SMS)
    assert (first.status, second.status) == (DeliveryStatus.TRANSIENT_FAILURE, DeliveryStatus.SENT)
    keys = {r.json()["idempotency_key"] for r in http_server.received}
    assert keys == {delivery_token(SMS.dedup_key)}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, DeliveryStatus.PERMANENT_FAILURE),
        (401, DeliveryStatus.PERMANENT_FAILURE),
        (404, DeliveryStatus.PERMANENT_FAILURE),
        (422, DeliveryStatus.PERMANENT_FAILURE),
        (429, DeliveryStatus.TRANSIENT_FAILURE),
        (500, DeliveryStatus.TRANSIENT_FAILURE),
        (503, DeliveryStatus.TRANSIENT_FAILURE),
    ],
)
async def test_sms_status_codes(
    http_server: HttpServer, status: int, expected: DeliveryStatus
) -> None:
    http_server.status = status
    result = await sms(http_server).send(SMS)
    assert result.status is expected
    assert result.error == f"http_{status}"


async def test_sms_timeout_is_transient(http_server: HttpServer) -> None:
    http_server.delay = 1.0
    result = await sms(http_server, timeout=0.2).send(SMS)
    assert result.status is DeliveryStatus.TRANSIENT_FAILURE
    assert result.error == "timeout"


async def test_sms_provider_down_is_transient() -> None:
    channel = SmsHttpChannel(endpoint=f"http://127.0.0.1:{free_port()}/v1", api_key="k", timeout=2)
    result = await channel.send(SMS)
    assert result.status is DeliveryStatus.TRANSIENT_FAILURE
    assert result.error is not None and result.error.startswith("http_unavailable")


async def test_sms_with_a_shared_client(http_server: HttpServer) -> None:
    async with httpx.AsyncClient() as client:
        result = await sms(http_server, client=client).send(SMS)
    assert result.status is DeliveryStatus.SENT
    assert len(http_server.received) == 1


async def test_sms_without_a_number_is_permanent(http_server: HttpServer) -> None:
    result = await sms(http_server).send(OutboundMessage("k", to="", subject="s", text="t"))
    assert (result.status, result.error) == (DeliveryStatus.PERMANENT_FAILURE, "no_address")
    assert http_server.received == []


@pytest.mark.parametrize("landline", ["0312345678", "048-222-1111", "12345"])
async def test_sms_to_a_landline_is_refused_without_asking_the_provider(
    http_server: HttpServer, landline: str
) -> None:
    message = OutboundMessage("k", to=landline, subject="s", text="t")
    result = await sms(http_server).send(message)
    assert (result.status, result.error) == (DeliveryStatus.PERMANENT_FAILURE, "sms_not_mobile")
    assert http_server.received == []


def test_channel_reprs_hide_secrets(http_server: HttpServer) -> None:
    assert "test-key" not in repr(sms(http_server))
    webhook = WebhookChannel({"life_independence": http_server.url("/hooks/secret-token")})
    assert "secret-token" not in repr(webhook)
    assert "09012345678" not in repr(SMS)


async def test_webhook_posts_the_message_to_the_team_room(http_server: HttpServer) -> None:
    webhook = WebhookChannel({"life_independence": http_server.url("/hooks/team-li")})
    result = await webhook.send(TEAM_MESSAGE)
    assert result.status is DeliveryStatus.SENT
    [request] = http_server.received
    assert request.path == "/hooks/team-li"
    assert request.json() == {"text": f"{TEAM_MESSAGE.subject}\n\n{TEAM_MESSAGE.text}"}


async def test_webhook_for_a_team_without_one_is_permanent(http_server: HttpServer) -> None:
    webhook = WebhookChannel({"welfare_fund": http_server.url("/hooks/wf")})
    result = await webhook.send(TEAM_MESSAGE)
    assert (result.status, result.error) == (DeliveryStatus.PERMANENT_FAILURE, "no_webhook")
    assert http_server.received == []


async def test_webhook_server_error_is_transient(http_server: HttpServer) -> None:
    http_server.status = 502
    webhook = WebhookChannel({"life_independence": http_server.url("/hooks/team-li")})
    result = await webhook.send(TEAM_MESSAGE)
    assert (result.status, result.error) == (DeliveryStatus.TRANSIENT_FAILURE, "http_502")
