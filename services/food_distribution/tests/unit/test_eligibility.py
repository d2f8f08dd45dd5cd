"""Eligibility for a food parcel: economic concerns (rule 9) and manual grants."""

from __future__ import annotations

import pytest

from tsunagu.food_distribution.domain.eligibility import (
    EligibilityBasis,
    eligibility_from_concerns,
    manual_grant,
)
from tsunagu.shared.contracts.codes import ECONOMIC_CONCERNS, Concern

C = Concern


@pytest.mark.parametrize(
    ("concerns", "expected"),
    [
        ([], None),
        ([C.ISOLATION], None),
        ([C.HOUSING, C.EMPLOYMENT, C.HEALTH], None),
        ([C.INCOME_SHORTFALL], (C.INCOME_SHORTFALL,)),
        ([C.INCOME_SHORTFALL, C.ISOLATION], (C.INCOME_SHORTFALL,)),  # the article's example
        ([C.FOOD_INSECURITY, C.DEBT_ARREARS], (C.DEBT_ARREARS, C.FOOD_INSECURITY)),
        (["debt_arrears", "isolation"], (C.DEBT_ARREARS,)),
        ([C.DEBT_ARREARS, C.DEBT_ARREARS], (C.DEBT_ARREARS,)),
    ],
)
def test_eligibility_from_concerns(
    concerns: list[Concern | str], expected: tuple[Concern, ...] | None
) -> None:
    result = eligibility_from_concerns(concerns)
    if expected is None:
        assert result is None
        return
    assert result is not None
    assert result.basis is EligibilityBasis.ECONOMIC_CONCERN
    assert result.concerns == expected
    assert set(result.concerns) <= ECONOMIC_CONCERNS


def test_reason_names_each_economic_concern_in_japanese() -> None:
    result = eligibility_from_concerns([C.FOOD_INSECURITY, C.INCOME_SHORTFALL, C.ISOLATION])
    assert result is not None
    assert result.reason == "経済的な困りごと: 生活費が足りない、食べるものに困っている"


def test_unknown_concern_code_is_an_error_not_a_silent_refusal() -> None:
    with pytest.raises(ValueError, match="income_shortfal"):
        eligibility_from_concerns(["income_shortfal"])


def test_manual_grant_records_case_staff_and_reason() -> None:
    result = manual_grant("case-1", "food", "  所持金がなく本日の食事がない  ")
    assert result.basis is EligibilityBasis.MANUAL
    assert result.case_id == "case-1"
    assert result.granted_by == "food"
    assert result.reason == "所持金がなく本日の食事がない"
    assert result.concerns == ()


@pytest.mark.parametrize(
    ("case_id", "staff", "reason", "message"),
    [
        ("case-1", "food", "", "reason"),
        ("case-1", "food", "  \u3000 ", "reason"),
        ("case-1", " ", "理由", "staff"),
        ("", "food", "理由", "case id"),
    ],
)
def test_manual_grant_rejects_blank_fields(
    case_id: str, staff: str, reason: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        manual_grant(case_id, staff, reason)
