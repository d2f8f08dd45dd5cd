"""Who may receive a food parcel: routing's decision (domain rule 9) or a staff grant.

Rule 9 has one owner, routing's versioned rule set: food distribution follows the decision
(``food_parcel_eligible`` in ``case_routed`` / ``case_rerouted``) and never reads concerns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EligibilityBasis(StrEnum):
    #: Routing's rule 9 (the code names what the default rule set looks at: economic concerns).
    ECONOMIC_CONCERN = "economic_concern"
    MANUAL = "manual"


@dataclass(frozen=True)
class Eligibility:
    """A household's entitlement to a parcel and why it was granted."""

    basis: EligibilityBasis
    reason: str
    case_id: str | None = None  # set for manual grants, which are made on a case
    granted_by: str | None = None  # staff who made a manual grant


def eligibility_from_decision(eligible: bool, rule_version: str) -> Eligibility | None:
    """Follow routing's decision: eligible under rule set ``rule_version``, or None."""
    if not eligible:
        return None
    return Eligibility(
        basis=EligibilityBasis.ECONOMIC_CONCERN,
        reason=f"振り分けの判断で配布対象（ルール {rule_version}）",
    )


def manual_grant(case_id: str, staff: str, reason: str) -> Eligibility:
    """Grant eligibility by staff decision; the reason is mandatory for the audit trail."""
    if not case_id.strip():
        raise ValueError("a manual grant needs a case id")
    if not staff.strip():
        raise ValueError("a manual grant needs the granting staff member")
    if not reason.strip():
        raise ValueError("a manual grant needs a reason")
    return Eligibility(
        basis=EligibilityBasis.MANUAL,
        reason=reason.strip(),
        case_id=case_id,
        granted_by=staff,
    )
