"""LetterChannel and PhoneCallChannel: documents for staff to print or act on."""

from __future__ import annotations

from datetime import UTC, datetime

from tsunagu.notify.adapters.channels import (
    LetterChannel,
    OutboundMessage,
    PhoneCallChannel,
    delivery_token,
)
from tsunagu.notify.domain.retry import DeliveryStatus
from tsunagu.notify.templates import render
from tsunagu.shared.contracts.codes import ContactTime, Language

CONTEXT = {
    "resident_name": "山田 花子",
    "council_name": "川口市社会福祉協議会",
    "council_phone": "048-000-0000",
    "case_number": "2025-0142",
    "programme": "elderly_support",
}
SENDER = ("社会福祉法人 川口市社会福祉協議会", "埼玉県川口市青木1-1-1", "電話 048-000-0000")


def outbound(language: Language, to: str, name: str | None = "山田 花子") -> OutboundMessage:
    rendered = render("programme_accepted", language, {**CONTEXT, "resident_name": name})
    return OutboundMessage(
        dedup_key="evt-1:resident:c-1:programme_accepted",
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        language=rendered.language,
        recipient_name=name,
        preferred_time=ContactTime.MORNING,
    )


async def test_letter_is_a_print_ready_a4_document() -> None:
    # 2025-06-01 20:00 UTC is already 2 June in Tokyo: the letter is dated in Tokyo.
    letters = LetterChannel(sender_lines=SENDER, clock=lambda: datetime(2025, 6, 1, 20, tzinfo=UTC))
    message = outbound(Language.JA, "〒332-0031\n埼玉県川口市青木2-2-2\nコーポ青木 101")
    result = await letters.send(message)

    assert result.status is DeliveryStatus.SENT
    assert result.reference == delivery_token(message.dedup_key)
    document = result.document
    assert document is not None
    assert "@page { size: A4 portrait;" in document
    assert '"Noto Sans CJK JP", "IPAexGothic"' in document and "serif" in document
    assert '<html lang="ja">' in document
    assert "2025年6月2日（月）" in document
    assert "<div>〒332-0031</div>" in document
    assert "<div>コーポ青木 101</div>" in document
    assert "山田 花子 様" in document
    assert "社会福祉法人 川口市社会福祉協議会" in document
    assert "地域包括支援センターがお引き受けすることになりました" in document


async def test_letter_escapes_markup() -> None:
    letters = LetterChannel(sender_lines=SENDER)
    result = await letters.send(outbound(Language.EN, "川口市<script>", name="<i>Ann</i>"))
    assert result.document is not None
    assert "<script>" not in result.document and "<i>" not in result.document
    assert "&lt;i&gt;Ann&lt;/i&gt; 様" in result.document
    assert '<html lang="en">' in result.document


async def test_letter_without_an_address_is_permanent() -> None:
    result = await LetterChannel(sender_lines=SENDER).send(outbound(Language.JA, "  "))
    assert (result.status, result.error) == (DeliveryStatus.PERMANENT_FAILURE, "no_address")
    assert result.document is None


async def test_phone_call_entry_with_a_script() -> None:
    message = outbound(Language.JA_EASY, "048-123-4567")
    result = await PhoneCallChannel().send(message)

    assert result.status is DeliveryStatus.SENT
    entry = result.call
    assert entry is not None
    assert entry.phone == "048-123-4567"
    assert entry.preferred_time is ContactTime.MORNING
    assert entry.interpreter_needed is False
    assert entry.script.startswith("【電話連絡】")
    assert "希望の時間帯：午前（8〜12時）" in entry.script
    assert "ゆっくり" in entry.script
    assert message.text.strip() in entry.script
    assert "留守番電話" in entry.script
    assert "048-123-4567" not in repr(entry) and "山田" not in repr(entry)


async def test_phone_call_in_another_language_asks_for_an_interpreter() -> None:
    result = await PhoneCallChannel().send(outbound(Language.VI, "090-1234-5678"))
    assert result.call is not None
    assert result.call.interpreter_needed is True
    assert "言語：ベトナム語" in result.call.script
    assert "通訳" in result.call.script


async def test_phone_call_without_a_number_is_permanent() -> None:
    result = await PhoneCallChannel().send(outbound(Language.JA, ""))
    assert (result.status, result.error) == (DeliveryStatus.PERMANENT_FAILURE, "no_address")


def test_every_adapter_is_a_channel() -> None:
    from tsunagu.notify.adapters.channels import (
        Channel,
        SmsHttpChannel,
        SmtpChannel,
        WebhookChannel,
    )

    channels: list[Channel] = [
        SmtpChannel(host="127.0.0.1", port=25, from_address="noreply@example.jp"),
        SmsHttpChannel(endpoint="http://127.0.0.1/sms", api_key="k"),
        LetterChannel(sender_lines=SENDER),
        PhoneCallChannel(),
        WebhookChannel({}),
    ]
    assert all(callable(channel.send) for channel in channels)
