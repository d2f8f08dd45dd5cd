"""The pure parts of the web layer: form to body, safe redirects, preview parsing, text checks."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError
from starlette.datastructures import FormData

from tsunagu.intake.adapters.passwords import hash_password, verify_password
from tsunagu.intake.adapters.routing_preview import parse_preview
from tsunagu.intake.domain.case_input import CaseInput, japanese_error_messages
from tsunagu.intake.entrypoints.i18n import WORDS
from tsunagu.intake.entrypoints.pages.intake_form import case_body
from tsunagu.intake.entrypoints.pages.rendering import form_values, format_phone, safe_next
from tsunagu.shared.contracts.codes import Concern, ReferralStatus

TEMPLATES = Path(__file__).parents[2] / "src" / "tsunagu" / "intake" / "templates"


def form(*pairs: tuple[str, str]) -> dict:
    return form_values(FormData(list(pairs)))


def test_the_article_sheet_becomes_a_valid_case_body() -> None:
    values = form(
        ("event_id", "20261128-aeon-mall"),
        ("resident.name", "川口 花子"),
        ("resident.name_kana", "カワグチ ハナコ"),
        ("resident.birth_date", "昭和23年5月1日"),
        ("resident.sex", "female"),
        ("resident.phone", "０９０－１２３４－５６７８"),
        ("resident.email", ""),
        ("resident.lives_alone", "yes"),
        ("household.0.relationship", ""),
        ("household.0.age", ""),
        ("concerns", "income_shortfall"),
        ("concerns", "isolation"),
        ("most_pressing", "income_shortfall"),
        ("consent.share_across_programmes", "yes"),
        ("consent.basis", "consent"),
        ("consent.contact_channels", "phone"),
        ("consent.contact_time", "afternoon"),
        ("notes", "話し相手がほしい"),
    )
    body = CaseInput.model_validate(case_body(values), context={"today": date(2026, 11, 28)})
    assert body.resident.birth_date == date(1948, 5, 1)
    assert body.resident.phone == "09012345678"
    assert body.resident.lives_alone is True
    assert body.resident.email is None
    assert body.resident.household == []
    assert body.concerns == [Concern.INCOME_SHORTFALL, Concern.ISOLATION]


def test_an_empty_sheet_names_every_missing_field_in_japanese() -> None:
    with pytest.raises(ValidationError) as raised:
        CaseInput.model_validate(case_body(form()))
    messages = japanese_error_messages(raised.value)
    assert messages["resident.name"] == "氏名を入力してください"
    assert messages["resident.name_kana"] == "ふりがなを入力してください"
    assert messages["concerns"] == "相談内容を1つ以上選んでください"
    assert "consent.share_across_programmes" in messages
    assert "event_id" in messages


def test_household_rows_and_proxy_are_read_when_given() -> None:
    values = form(
        ("household.0.relationship", "長男"),
        ("household.0.age", "50"),
        ("household.2.relationship", "妻"),
        ("proxy.name", "川口 一郎"),
        ("proxy.relationship", "長男"),
    )
    body = case_body(values)
    assert body["resident"]["household"] == [
        {"relationship": "長男", "age": "50"},
        {"relationship": "妻", "age": None},
    ]
    assert body["resident"]["proxy"] == {"name": "川口 一郎", "relationship": "長男"}


@pytest.mark.parametrize(
    ("given", "target"),
    [
        (None, "/"),
        ("/cases/abc?x=1", "/cases/abc?x=1"),
        ("http://127.0.0.1:8000/board", "/board"),
        ("https://evil.example/steal", "/steal"),  # host dropped: always this site
        ("//evil.example/x", "/x"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_after_login_only_paths_on_this_site(given: str | None, target: str) -> None:
    assert safe_next(given) == target


def test_preview_reads_a_decision_or_a_list_of_referrals() -> None:
    decision = {
        "rule_version": "2025.1",
        "programmes": ["life_independence", "csw_participation"],
        "roles": {"life_independence": "lead", "csw_participation": "member"},
        "reasons": {"life_independence": ["concern income_shortfall"]},
        "awaiting_consent": ["csw_participation"],
        "food_parcel_eligible": True,
        "compound": False,
    }
    preview = parse_preview(decision)
    assert preview.ok and preview.food_parcel_eligible
    assert [(line.programme, line.role, line.status) for line in preview.lines] == [
        ("life_independence", "lead", ReferralStatus.PENDING.value),
        ("csw_participation", "member", ReferralStatus.SUGGESTED.value),
    ]
    listed = parse_preview(
        {"referrals": [{"programme": "welfare_fund", "role": "lead", "reasons": ["r"]}]}
    )
    assert listed.lines[0].programme == "welfare_fund"


def test_passwords_are_salted_and_checked() -> None:
    stored = hash_password("tsunagu-demo")
    assert stored.startswith("scrypt$")
    assert stored != hash_password("tsunagu-demo")
    assert verify_password("tsunagu-demo", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("tsunagu-demo", None)
    assert not verify_password("tsunagu-demo", "garbage")


def test_every_word_the_templates_use_has_both_languages() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']\s*\)""", template.read_text()))
    missing = sorted(key for key in used if key not in WORDS)
    assert missing == []
    assert all(ja and en for ja, en in WORDS.values())


def test_every_staff_role_has_a_name_on_the_staff_pages() -> None:
    from tsunagu.shared.contracts.codes import StaffRole

    # The staff form and list name each role through t("staffrole." ~ role).
    assert sorted(r.value for r in StaffRole if f"staffrole.{r.value}" not in WORDS) == []


@pytest.mark.parametrize(
    ("digits", "shown"),
    [
        ("0312345678", "03-1234-5678"),  # Tokyo: a two-digit area code
        ("0482221111", "048-222-1111"),
        ("09012345678", "090-1234-5678"),
        ("0120123456", "0120-123-456"),
        (None, ""),
    ],
)
def test_phone_numbers_are_shown_by_their_real_area_code(digits: str | None, shown: str) -> None:
    assert format_phone(digits) == shown


def test_outside_agencies_are_named_in_japanese() -> None:
    from tsunagu.intake.entrypoints.i18n import agency_label
    from tsunagu.shared.contracts.codes import ExternalAgency

    ja = agency_label("ja")
    assert ja("dv_centre") == "警察・配偶者暴力相談支援センター"
    assert all(ja(a.value) != a.value for a in ExternalAgency)  # no code left showing
    assert agency_label("en")("hello_work") == "Hello Work"
    assert ja("someday_agency") == "someday_agency"
