"""Who may receive a food parcel: economic concerns (domain rule 9) or a staff grant."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from tsunagu.shared.contracts.codes import CONCERN_LABELS_JA, ECONOMIC_CONCERNS, Concern


class EligibilityBasis(StrEnum):
    ECONOMIC_CONCERN = "economic_concern"
    MANUAL = "manual"


@dataclass(frozen=True)
class Eligibility:
    """A household's entitlement to a parcel and why it was granted."""

    basis: EligibilityBasis
    reason: str
    concerns: tuple[Concern, ...] = ()  # the economic concerns that granted it, in code order
    case_id: str | None = None  # set for manual grants, which are made on a case
    granted_by: str | None = None  # staff who made a manual grant


def eligibility_from_concerns(concerns: Iterable[Concern | str]) -> Eligibility | None:
    """Grant eligibility when any recorded concern is economic; None otherwise.

    Unknown concern codes raise ValueError: a typo must not silently deny a parcel.
    """
    recorded = {Concern(c) for c in concerns}
    economic = tuple(c for c in Concern if c in recorded and c in ECONOMIC_CONCERNS)
    if not economic:
        return None
    labels = "、".join(CONCERN_LABELS_JA[c] for c in economic)
    return Eligibility(
        basis=EligibilityBasis.ECONOMIC_CONCERN,
        reason=f"経済的な困りごと: {labels}",
        concerns=economic,
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
