"""Routing's reasons for a referral, as staff read them on the case page, preview and inbox."""

from __future__ import annotations

import pytest

from tsunagu.intake.entrypoints.i18n import reason_label

JA = reason_label("ja")


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("concern income_shortfall", "相談内容「生活費が足りない」"),
        ("age 82 ≥ 65 and concern elderly_care", "82歳（65歳以上）で「介護・高齢者の暮らし」"),
        ("disability certificate", "障害者手帳がある"),
        ("special-loan borrower", "特例貸付の借受人"),
        ("compound: 3 programmes", "複合課題（3窓口）"),
        ("compound: concern hikikomori", "複合課題「家族・本人のひきこもり」"),
        (
            "compound: concerns hikikomori, family_8050",
            "複合課題「家族・本人のひきこもり」「高齢の親と無職の子の世帯 (8050)」",
        ),
        ("lead: coordinator of a compound case", "主担当: 複合課題の調整役"),
        (
            "lead: most pressing concern income_shortfall",
            "主担当: 一番困っていること「生活費が足りない」",
        ),
        (
            "lead: first concern reaching a programme, isolation",
            "主担当: 最初の相談内容「孤立している・誰かと交流したい」",
        ),
        ("lead: first programme reached", "主担当: 最初に該当した窓口"),
        ("lead: default lead", "主担当: 既定の窓口"),
        ("no council programme reached", "社協の窓口に該当なし"),
    ],
)
def test_routing_reasons_in_japanese(reason: str, shown: str) -> None:
    assert JA(reason) == shown


def test_an_unknown_reason_is_shown_as_it_came() -> None:
    assert JA("a rule added later") == "a rule added later"
    assert JA("concern not_a_code") == "相談内容「not_a_code」"


def test_english_pages_keep_routing_s_words() -> None:
    assert reason_label("en")("concern isolation") == "concern isolation"
