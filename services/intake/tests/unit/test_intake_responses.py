"""Which referral responses make sense in which status; who may record consent."""

from __future__ import annotations

import pytest

from tsunagu.intake.domain.access import Principal, can_change_consent
from tsunagu.intake.domain.responses import allowed_actions, needs_text
from tsunagu.shared.contracts.codes import Programme, ReferralStatus, StaffRole

S = ReferralStatus


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        (S.PENDING, ["accept", "decline"]),
        (S.ESCALATED, ["accept", "decline"]),
        (S.ACCEPTED, ["decline", "start", "close"]),
        (S.IN_PROGRESS, ["close"]),
        (S.CLOSED, []),
        (S.DECLINED, []),
        (S.SUGGESTED, []),  # not shared yet: nothing to respond to
    ],
)
def test_allowed_actions(status: ReferralStatus, actions: list[str]) -> None:
    assert allowed_actions(status) == actions


def test_a_decline_needs_a_reason_and_a_close_an_outcome() -> None:
    assert needs_text("decline") == "reason"
    assert needs_text("close") == "outcome"
    assert needs_text("accept") is None
    assert needs_text("start") is None


LIFE = Programme.LIFE_INDEPENDENCE
SHARED = {LIFE: S.PENDING}


@pytest.mark.parametrize(
    ("roles", "programmes", "allowed"),
    [
        ({StaffRole.INTAKE}, set(), True),
        ({StaffRole.COORDINATOR}, {Programme.CSW_OUTREACH}, True),
        ({StaffRole.PROGRAMME}, {LIFE}, True),
        ({StaffRole.PROGRAMME}, {Programme.WELFARE_FUND}, False),  # not shared with them
        ({StaffRole.ADMIN}, set(), False),  # sees, but does not act on cases
        ({StaffRole.AUDITOR}, set(), False),
        ({StaffRole.FOOD_DESK}, set(), False),
    ],
)
def test_who_records_consent(roles, programmes, allowed: bool) -> None:
    principal = Principal("staff", frozenset(roles), frozenset(programmes))
    assert can_change_consent(principal, SHARED) is allowed
