"""Routing's reasons as data, rendered in the five languages residents and staff read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tsunagu.shared.contracts import routing
from tsunagu.shared.contracts.codes import Concern, Language
from tsunagu.shared.contracts.reasons import (
    CONCERN_LABELS,
    FLAG_LABELS,
    TEMPLATES,
    Reason,
    ReasonCode,
    render_reason,
)


def r(code: str, **params: object) -> dict[str, object]:
    return {"code": code, "params": params}


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        (r("concern", concern="income_shortfall"), "相談内容「生活費が足りない」"),
        (
            r("age_and_concern", age=82, threshold=65, concern="elderly_care"),
            "82歳（65歳以上）で「介護・高齢者の暮らし」",
        ),
        (r("disability_certificate"), "障害者手帳がある"),
        (r("special_loan_borrower"), "特例貸付の借受人"),
        (r("compound_programmes", count=3), "複合課題（3窓口）"),
        (
            r("compound_concerns", concerns=["hikikomori", "family_8050"]),
            "複合課題「家族・本人のひきこもり」「高齢の親と無職の子の世帯 (8050)」",
        ),
        (r("lead_coordinator"), "主担当: 複合課題の調整役"),
        (
            r("lead_most_pressing", concern="income_shortfall"),
            "主担当: 一番困っていること「生活費が足りない」",
        ),
        (
            r("lead_first_concern", concern="isolation"),
            "主担当: 最初の相談内容「孤立している・誰かと交流したい」",
        ),
        (r("lead_first_programme"), "主担当: 最初に該当した窓口"),
        (r("lead_default"), "主担当: 既定の窓口"),
        (r("no_programme_reached"), "社協の窓口に該当なし"),
        (r("flag", flag="no_food_today"), "緊急: 今日食べるものがない"),
    ],
)
def test_every_reason_in_japanese(reason: dict[str, object], shown: str) -> None:
    assert render_reason(reason, "ja") == shown


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("en", "aged 78 (65 or over) with dementia, managing money"),
        ("ja_easy", "78さい（65さい いじょう）で「にんちしょう・おかねの かんり」"),
        ("zh", "78岁（65岁以上），认知症、难以管理钱财"),
        ("vi", "78 tuổi (từ 65 tuổi trở lên), sa sút trí tuệ, khó quản lý tiền"),
    ],
)
def test_a_reason_in_the_other_languages(language: str, shown: str) -> None:
    reason = Reason(
        code=ReasonCode.AGE_AND_CONCERN,
        params={"age": 78, "threshold": 65, "concern": "dementia_money"},
    )
    assert render_reason(reason, language) == shown


def test_every_code_and_concern_has_words_in_every_language() -> None:
    for language in Language:
        assert set(CONCERN_LABELS[language]) == set(Concern), language
        assert set(FLAG_LABELS[language]) == {"no_food_today", "eviction_within_7_days"}
        for code in ReasonCode:
            assert TEMPLATES[code][language], (code, language)


def test_what_cannot_be_read_is_shown_as_its_code_not_an_error() -> None:
    assert render_reason(r("compound_programmes"), "ja") == "compound_programmes"  # no count
    assert render_reason(r("a_rule_added_later"), "ja") == "a_rule_added_later"
    assert render_reason(r("concern", concern="not_a_code"), "en") == "concern: not_a_code"
    assert render_reason(r("lead_default"), "fr") == "主担当: 既定の窓口"  # unknown: Japanese


def test_version_1_sentences_still_read_as_text_reasons() -> None:
    referral = routing.Referral.model_validate(
        {
            "referral_id": "r1",
            "programme": "life_independence",
            "role": "lead",
            "status": "pending",
            "reasons": ["concern income_shortfall", r("lead_default")],
        }
    )
    assert referral.reasons[0] == Reason(
        code=ReasonCode.TEXT, params={"text": "concern income_shortfall"}
    )
    assert render_reason(referral.reasons[0], "zh") == "concern income_shortfall"
    assert referral.reasons[1].code is ReasonCode.LEAD_DEFAULT
    external = routing.ExternalReferral.model_validate(
        {"agency": "dv_centre", "reason": "concern dv_abuse; concern health"}
    )
    assert [x.params["text"] for x in external.reasons] == ["concern dv_abuse", "concern health"]


def test_a_reason_code_outside_the_contract_is_refused() -> None:
    with pytest.raises(ValidationError):
        Reason.model_validate(r("because"))
