"""Renders a named message in a language: subject, plain text and, for residents, HTML.

Each message is one Jinja2 file per language, ``messages/<template>/<language>.txt``, with a
``subject`` and a ``body`` block; translators edit plain text only. The HTML version of a
resident message is built from that text by an autoescaped layout, so a name containing
markup cannot inject any. Variables are strict: a missing one is an error, never a blank.

A language without a translation falls back to やさしい日本語 (``ja_easy``), which most
residents of any background can read, then to ``ja``. Staff messages exist in Japanese only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.shared.contracts.codes import (
    PROGRAMME_NAMES_EN,
    PROGRAMME_NAMES_JA,
    Language,
    ParcelType,
    Programme,
    ReferralRole,
)
from tsunagu.shared.contracts.reasons import render_reason

#: Resident templates' variables: resident_name (str | None, added at send time),
#: council_name, council_phone, and per template:
#: acknowledgement: case_number, programme, contact_by (date);
#: programme_accepted: case_number, programme;
#: event_invitation: event_date, opens_at, closes_at, venue_name, venue_address;
#: withdrawal_confirmed: case_number (the one message after a withdrawal, when asked for).
RESIDENT_TEMPLATES: tuple[str, ...] = (
    "acknowledgement",
    "programme_accepted",
    "event_invitation",
    "withdrawal_confirmed",
)
#: Staff templates carry a case number and a staff UI link, never a resident's name or contact.
STAFF_TEMPLATES: tuple[str, ...] = (
    "new_referral",  # case_number, case_url, programme, urgent, role, respond_by
    "consent_withdrawn",  # case_number, case_url, programme
    "referral_escalated",  # case_number, case_url, programme, urgent, deadline_at
    "referral_declined",  # case_number, case_url, programme, suggested_next
    "referral_closed",  # case_number, case_url, programme
    "stock_low",  # venue, parcel_type, remaining, threshold
)

_HERE = Path(__file__).parent
_FALLBACKS: tuple[Language, ...] = (Language.JA_EASY, Language.JA)
_HTML_LANG: dict[Language, str] = {
    Language.JA: "ja",
    Language.JA_EASY: "ja",
    Language.EN: "en",
    Language.ZH: "zh-Hans",
    Language.VI: "vi",
}


class UnknownTemplate(KeyError):
    pass


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str | None
    language: Language  # the language actually rendered, after any fallback


@cache
def available_languages(template: str) -> tuple[Language, ...]:
    folder = _HERE / "messages" / template
    if template not in RESIDENT_TEMPLATES + STAFF_TEMPLATES or not folder.is_dir():
        raise UnknownTemplate(template)
    return tuple(lang for lang in Language if (folder / f"{lang.value}.txt").is_file())


def render(template: str, language: str, context: Mapping[str, Any]) -> RenderedMessage:
    """Render ``template`` in ``language`` (or its fallback) with ``context``."""
    lang = _resolve_language(template, language)
    jinja_template = _ENV.get_template(f"messages/{template}/{lang.value}.txt")
    ctx = jinja_template.new_context(dict(context))
    subject = " ".join("".join(jinja_template.blocks["subject"](ctx)).split())
    text = "".join(jinja_template.blocks["body"](ctx)).strip() + "\n"
    html = None
    if template in RESIDENT_TEMPLATES:
        html = _ENV.get_template("layouts/email.html").render(
            lang=_HTML_LANG[lang], subject=subject, paragraphs=paragraphs(text)
        )
    return RenderedMessage(subject=subject, text=text, html=html, language=lang)


def render_letter(
    *,
    subject: str,
    text: str,
    language: Language,
    recipient_name: str | None,
    recipient_address: str,
    sender_lines: tuple[str, ...],
    letter_date: date,
) -> str:
    """A print-ready A4 HTML letter: date, address block, sender, subject, body."""
    return _ENV.get_template("layouts/letter.html").render(
        lang=_HTML_LANG[language],
        subject=subject,
        paragraphs=paragraphs(text),
        recipient_name=recipient_name,
        address_lines=[line for line in recipient_address.splitlines() if line.strip()],
        sender_lines=sender_lines,
        letter_date=long_date(letter_date, Language.JA),
    )


def paragraphs(text: str) -> list[list[str]]:
    """Plain text split into paragraphs (at blank lines) of lines."""
    blocks = [block.strip("\n") for block in text.strip().split("\n\n")]
    return [block.split("\n") for block in blocks if block.strip()]


def _resolve_language(template: str, language: str) -> Language:
    available = available_languages(template)
    try:
        requested: Language | None = Language(language)
    except ValueError:
        requested = None
    for candidate in (requested, *_FALLBACKS):
        if candidate in available:
            return candidate
    raise UnknownTemplate(f"{template}: no ja or ja_easy text")


# --- filters ----------------------------------------------------------------------------

_PROGRAMME_NAMES: dict[Language, dict[Programme, str]] = {
    Language.JA_EASY: {
        Programme.LIFE_INDEPENDENCE: "生活自立（せいかつじりつ）サポートセンター",
        Programme.ADULT_GUARDIANSHIP: "成年後見（せいねんこうけん）センター",
        Programme.WELFARE_FUND: "生活福祉資金（せいかつふくししきん）の 係（かかり）",
        Programme.CSW_OUTREACH: "CSW（地域（ちいき）の ソーシャルワーカー）",
        Programme.CSW_PARTICIPATION: "CSW（地域（ちいき）の ソーシャルワーカー）",
        Programme.ELDERLY_SUPPORT: "地域包括支援（ちいきほうかつしえん）センター",
        Programme.DISABILITY_SUPPORT: "障害者相談支援（しょうがいしゃそうだんしえん）センター",
    },
    Language.ZH: {
        Programme.LIFE_INDEPENDENCE: "生活自立支援中心",
        Programme.ADULT_GUARDIANSHIP: "成年监护中心",
        Programme.WELFARE_FUND: "生活福利资金窗口",
        Programme.CSW_OUTREACH: "社区社会工作者（上门支援）",
        Programme.CSW_PARTICIPATION: "社区社会工作者（社会参与支援）",
        Programme.ELDERLY_SUPPORT: "地区综合支援中心（老年人咨询）",
        Programme.DISABILITY_SUPPORT: "残障人士咨询支援中心",
    },
    Language.VI: {
        Programme.LIFE_INDEPENDENCE: "Trung tâm Hỗ trợ Tự lập Đời sống",
        Programme.ADULT_GUARDIANSHIP: "Trung tâm Giám hộ Người thành niên",
        Programme.WELFARE_FUND: "Bộ phận Quỹ Phúc lợi Đời sống",
        Programme.CSW_OUTREACH: "Nhân viên công tác xã hội cộng đồng (hỗ trợ tận nơi)",
        Programme.CSW_PARTICIPATION: "Nhân viên công tác xã hội cộng đồng (hỗ trợ tham gia)",
        Programme.ELDERLY_SUPPORT: "Trung tâm Hỗ trợ Tổng hợp Khu vực (người cao tuổi)",
        Programme.DISABILITY_SUPPORT: "Trung tâm Tư vấn Hỗ trợ Người khuyết tật",
    },
    Language.EN: PROGRAMME_NAMES_EN,
}

_WEEKDAYS: dict[Language, tuple[str, ...]] = {
    Language.JA: ("月", "火", "水", "木", "金", "土", "日"),
    Language.JA_EASY: ("月曜日", "火曜日", "水曜日", "木曜日", "金曜日", "土曜日", "日曜日"),
    Language.EN: ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    Language.ZH: ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"),
    Language.VI: ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"),
}
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_PARCEL_TYPES_JA: dict[ParcelType, str] = {
    ParcelType.STANDARD: "標準",
    ParcelType.NO_PORK: "豚肉不使用（ハラール配慮）",
    ParcelType.ALLERGY_FRIENDLY: "アレルギー対応",
    ParcelType.INFANT: "乳幼児向け",
}
_ROLES_JA: dict[ReferralRole, str] = {
    ReferralRole.LEAD: "主担当",
    ReferralRole.COORDINATOR: "コーディネーター（主担当）",
    ReferralRole.MEMBER: "連携",
}


def programme_name(code: str, language: str) -> str:
    """The programme's name for residents; translations keep the Japanese name they will see."""
    programme, lang = Programme(code), Language(language)
    ja = PROGRAMME_NAMES_JA[programme]
    if lang is Language.JA:
        return ja
    if lang is Language.JA_EASY:
        return _PROGRAMME_NAMES[lang][programme]
    if lang is Language.ZH:
        return f"{_PROGRAMME_NAMES[lang][programme]}（{ja}）"
    return f"{_PROGRAMME_NAMES[lang][programme]} ({ja})"


def long_date(value: date | datetime | str, language: str) -> str:
    """A date as residents read it, weekday included, in their language (Tokyo calendar)."""
    d = _as_date(value)
    lang = Language(language)
    weekday = _WEEKDAYS[lang][d.weekday()]
    if lang is Language.EN:
        return f"{weekday} {d.day} {_MONTHS_EN[d.month - 1]} {d.year}"
    if lang is Language.VI:
        return f"{weekday}, ngày {d.day} tháng {d.month} năm {d.year}"
    return f"{d.year}年{d.month}月{d.day}日（{weekday}）"


def datetime_ja(value: datetime | str) -> str:
    """A moment in Tokyo time for staff, e.g. 2025年6月3日（火）14:30."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = _tokyo(moment)
    return f"{long_date(local.date(), Language.JA)} {local:%H:%M}"


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return _tokyo(value).date()
    return value


def _tokyo(moment: datetime) -> datetime:
    # Times on the bus are UTC; a naive one is read as UTC, never as the host's local time.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TOKYO)


def _build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_HERE),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["programme_name"] = programme_name
    env.filters["long_date"] = long_date
    env.filters["datetime_ja"] = datetime_ja
    env.filters["parcel_type_ja"] = lambda code: _PARCEL_TYPES_JA[ParcelType(code)]
    env.filters["role_ja"] = lambda code: _ROLES_JA[ReferralRole(code)]
    env.filters["reason"] = render_reason
    return env


_ENV = _build_env()
