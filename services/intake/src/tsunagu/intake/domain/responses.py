"""Which response a programme may submit to a referral in its current status.

Routing owns referral state and has the last word; intake checks first so that staff see a clear
message instead of a response routing would only refuse (domain.md, "Referral lifecycle").
"""

from __future__ import annotations

from tsunagu.shared.contracts.codes import ReferralStatus
from tsunagu.shared.contracts.intake import ReferralAction

__all__ = ["ACTIONS", "allowed_actions", "needs_text"]

ACTIONS: tuple[ReferralAction, ...] = ("accept", "decline", "start", "close")

_FROM: dict[ReferralAction, frozenset[ReferralStatus]] = {
    "accept": frozenset({ReferralStatus.PENDING, ReferralStatus.ESCALATED}),
    "decline": frozenset(
        {ReferralStatus.PENDING, ReferralStatus.ESCALATED, ReferralStatus.ACCEPTED}
    ),
    "start": frozenset({ReferralStatus.ACCEPTED}),
    "close": frozenset({ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS}),
}


def allowed_actions(status: ReferralStatus) -> list[ReferralAction]:
    """The responses that make sense for a referral in ``status``, in lifecycle order."""
    return [action for action in ACTIONS if status in _FROM[action]]


def needs_text(action: ReferralAction) -> str | None:
    """The free-text field an action must carry: a decline its reason, a close its outcome."""
    return {"decline": "reason", "close": "outcome"}.get(action)
