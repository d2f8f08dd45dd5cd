"""Eligibility for a food parcel: routing's decision (rule 9) and manual grants."""

from __future__ import annotations

import pytest

from tsunagu.food_distribution.domain.eligibility import (
    EligibilityBasis,
    eligibility_from_decision,
    manual_grant,
)


def test_food_follows_routings_decision() -> None:
    result = eligibility_from_decision(True, "2026.1")
    assert result is not None
    assert result.basis is EligibilityBasis.ECONOMIC_CONCERN
    assert result.reason == "振り分けの判断で配布対象（ルール 2026.1）"
    assert eligibility_from_decision(False, "2026.1") is None


def test_manual_grant_records_case_staff_and_reason() -> None:
    result = manual_grant("case-1", "food", "  所持金がなく本日の食事がない  ")
    assert result.basis is EligibilityBasis.MANUAL
    assert result.case_id == "case-1"
    assert result.granted_by == "food"
    assert result.reason == "所持金がなく本日の食事がない"


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
