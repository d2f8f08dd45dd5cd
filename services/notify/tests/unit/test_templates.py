"""Every template renders in every language it has, strictly, and staff texts hold no personal data."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from jinja2 import UndefinedError

from tsunagu.notify.domain.planning import PlanningContext, ResidentContact, plan
from tsunagu.notify.templates import (
    RESIDENT_TEMPLATES,
    STAFF_TEMPLATES,
    UnknownTemplate,
    available_languages,
    render,
)
from tsunagu.shared.contracts.codes import ContactChannel, Language, Programme

COUNCIL = {"council_name": "川口市社会福祉協議会", "council_phone": "048-000-0000"}
CONTEXTS: dict[str, dict[str, Any]] = {
    "acknowledgement": {
        **COUNCIL,
        "resident_name": "山田 花子",
        "case_number": "2025-0142",
        "programme": "life_independence",
        "contact_by": "2025-06-07",
    },
    "programme_accepted": {
        **COUNCIL,
        "resident_name": "山田 花子",
        "case_number": "2025-0142",
        "programme": "csw_participation",
    },
    "withdrawal_confirmed": {**COUNCIL, "resident_name": "山田 花子", "case_number": "2025-0142"},
    "event_invitation": {
        **COUNCIL,
        "resident_name": "山田 花子",
        "event_date": date(2025, 7, 5),
        "opens_at": "10:00",
        "closes_at": "15:00",
        "venue_name": "東川口駅前行政センター",
        "venue_address": "埼玉県川口市戸塚1-1-1",
        "events_url": "https://tsunagu.example.jp/events?lang=en",
    },
    "new_referral": {
        "case_number": "2025-0142",
        "case_url": "https://tsunagu.example.jp/cases/case-7f3a",
        "programme": "life_independence",
        "urgent": True,
        "role": "lead",
        "respond_by": "2025-06-02T05:30:00+00:00",
    },
    "consent_withdrawn": {
        "case_number": "2025-0142",
        "case_url": "https://tsunagu.example.jp/cases/case-7f3a",
        "programme": "elderly_support",
    },
    "referral_escalated": {
        "case_number": "2025-0142",
        "case_url": "https://tsunagu.example.jp/cases/case-7f3a",
        "programme": "welfare_fund",
        "urgent": False,
        "deadline_at": "2025-06-04T08:30:00+00:00",
    },
    "referral_declined": {
        "case_number": "2025-0142",
        "case_url": "https://tsunagu.example.jp/cases/case-7f3a",
        "programme": "csw_participation",
        "suggested_next": "csw_outreach",
    },
    "referral_closed": {
        "case_number": "2025-0142",
        "case_url": "https://tsunagu.example.jp/cases/case-7f3a",
        "programme": "life_independence",
    },
    "stock_low": {
        "venue": "イオンモール川口",
        "parcel_type": "allergy_friendly",
        "remaining": 3,
        "threshold": 10,
    },
}
EVERY_RENDERING = [
    (template, language)
    for template in RESIDENT_TEMPLATES + STAFF_TEMPLATES
    for language in available_languages(template)
]


def test_contexts_cover_every_template() -> None:
    assert set(CONTEXTS) == set(RESIDENT_TEMPLATES + STAFF_TEMPLATES)


@pytest.mark.parametrize("template", RESIDENT_TEMPLATES)
def test_resident_templates_exist_in_every_language(template: str) -> None:
    assert set(available_languages(template)) == set(Language)


@pytest.mark.parametrize("template", STAFF_TEMPLATES)
def test_staff_templates_are_japanese(template: str) -> None:
    assert available_languages(template) == (Language.JA,)


@pytest.mark.parametrize(("template", "language"), EVERY_RENDERING)
def test_renders_strictly(template: str, language: Language) -> None:
    message = render(template, language, CONTEXTS[template])
    assert message.language is language
    assert message.subject and "\n" not in message.subject
    assert message.text.strip()
    for part in (message.subject, message.text, message.html or ""):
        assert "{{" not in part and "{%" not in part and "None" not in part
    if template in RESIDENT_TEMPLATES:
        assert message.html is not None
        assert "山田 花子" in message.text
        assert "048-000-0000" in message.text
    else:
        assert message.html is None


#: Added later: deliveries scheduled before it have no value, and render without the line.
OPTIONAL = {"events_url"}


@pytest.mark.parametrize(("template", "language"), EVERY_RENDERING)
def test_every_variable_is_required(template: str, language: Language) -> None:
    for missing in set(CONTEXTS[template]) - OPTIONAL:
        context = {k: v for k, v in CONTEXTS[template].items() if k != missing}
        with pytest.raises(UndefinedError):
            render(template, language, context)


@pytest.mark.parametrize("template", STAFF_TEMPLATES)
def test_staff_messages_never_carry_resident_details(template: str) -> None:
    context = {
        **CONTEXTS[template],
        "resident_name": "山田 花子",
        "phone": "090-1234-5678",
        "address": "埼玉県川口市青木1-1-1",
    }
    message = render(template, "ja", context)
    for secret in ("山田", "090-1234-5678", "青木"):
        assert secret not in message.subject + message.text


def test_urgent_referrals_are_marked() -> None:
    urgent = render("new_referral", "ja", CONTEXTS["new_referral"])
    assert urgent.subject.startswith("【至急】")
    assert "【至急】" in urgent.text
    assert "受理期限：2025年6月2日（月） 14:30" in urgent.text
    calm = render("new_referral", "ja", {**CONTEXTS["new_referral"], "urgent": False})
    assert "至急" not in calm.subject + calm.text
    assert CONTEXTS["new_referral"]["case_url"] in calm.text


def test_a_new_referral_says_why_in_the_teams_words() -> None:
    reasons = [
        {"code": "concern", "params": {"concern": "income_shortfall"}},
        {"code": "lead_most_pressing", "params": {"concern": "income_shortfall"}},
    ]
    message = render("new_referral", "ja", {**CONTEXTS["new_referral"], "reasons": reasons})
    assert "・相談内容「生活費が足りない」" in message.text
    assert "・主担当: 一番困っていること「生活費が足りない」" in message.text
    # Messages planned before reasons travelled still render.
    assert "紹介の理由" not in render("new_referral", "ja", CONTEXTS["new_referral"]).text


def test_unknown_language_falls_back_to_easy_japanese() -> None:
    message = render("acknowledgement", "pt", CONTEXTS["acknowledgement"])
    assert message.language is Language.JA_EASY
    assert "相談（そうだん）" in message.text


def test_staff_templates_fall_back_to_japanese() -> None:
    assert render("stock_low", "en", CONTEXTS["stock_low"]).language is Language.JA


def test_unknown_template() -> None:
    with pytest.raises(UnknownTemplate):
        render("no_such_template", "ja", {})


def test_dates_read_naturally_in_each_language() -> None:
    expected = {
        Language.JA: "2025年6月7日（土）",
        Language.JA_EASY: "2025年6月7日（土曜日）",
        Language.EN: "Saturday 7 June 2025",
        Language.ZH: "2025年6月7日（星期六）",
        Language.VI: "Thứ Bảy, ngày 7 tháng 6 năm 2025",
    }
    for language, text in expected.items():
        assert text in render("acknowledgement", language, CONTEXTS["acknowledgement"]).text


def test_translated_programme_names_keep_the_japanese_name() -> None:
    en = render("acknowledgement", "en", CONTEXTS["acknowledgement"])
    assert "Independence Support Centre (生活自立サポートセンター)" in en.text
    zh = render("acknowledgement", "zh", CONTEXTS["acknowledgement"])
    assert "生活自立支援中心（生活自立サポートセンター）" in zh.text


def test_html_escapes_what_the_text_keeps() -> None:
    context = {**CONTEXTS["programme_accepted"], "resident_name": "<b>花子</b>"}
    message = render("programme_accepted", "ja", context)
    assert "<b>花子</b> 様" in message.text
    assert message.html is not None
    assert "&lt;b&gt;花子&lt;/b&gt;" in message.html
    assert "<b>" not in message.html
    assert '<html lang="ja">' in message.html


def test_a_resident_without_a_name_on_file_gets_a_polite_general_greeting() -> None:
    context = {**CONTEXTS["acknowledgement"], "resident_name": None}
    assert render("acknowledgement", "ja", context).text.startswith("ご相談者様")
    assert render("acknowledgement", "en", context).text.startswith("Dear Sir or Madam,")


def test_what_planning_produces_renders() -> None:
    now = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
    ctx = PlanningContext(
        event_id="evt-1",
        now=now,
        staff_url="https://tsunagu.example.jp",
        resident=ResidentContact("case-1", frozenset({ContactChannel.EMAIL}), language=Language.ZH),
        intake_staff="sato",
        council_name=COUNCIL["council_name"],
        council_phone=COUNCIL["council_phone"],
    )
    events: dict[str, dict[str, Any]] = {
        "notify_case_routed": {
            "case_id": "case-1",
            "case_number": "2025-0001",
            "lead": Programme.ADULT_GUARDIANSHIP,
            "referrals": [],
        },
        "notify_referral_status_changed": {
            "case_id": "case-1",
            "case_number": "2025-0001",
            "referral_id": "r-1",
            "programme": Programme.DISABILITY_SUPPORT,
            "status": "declined",
        },
        "stock_low": {
            "event_id": "ev-1",
            "venue_id": "venue-1",
            "parcel_type": "infant",
            "remaining": 1,
            "threshold": 5,
        },
    }
    for event_type, data in events.items():
        for intent in plan(event_type, data, ctx).intents:
            context = dict(intent.variables)
            if intent.template in RESIDENT_TEMPLATES:
                context["resident_name"] = "王 芳"
            message = render(intent.template, intent.language, context)
            assert message.text.strip()


@pytest.mark.parametrize("language", list(Language))
def test_an_invitation_links_to_the_events_page_when_it_has_the_address(language: Language) -> None:
    context = CONTEXTS["event_invitation"]
    with_link = render("event_invitation", language, context)
    assert "https://tsunagu.example.jp/events?lang=en" in with_link.text
    assert "https://tsunagu.example.jp/events?lang=en" in (with_link.html or "")
    older = {k: v for k, v in context.items() if k != "events_url"}
    assert "/events" not in render("event_invitation", language, older).text
