"""The referral lifecycle: allowed status changes, escalation, and who is next after a decline.

    suggested --release--> pending            (consent given, or a support meeting took the case)
    pending   --accept---> accepted --start--> in_progress --close (outcome)--> closed
    pending   --decline (reason)--> declined
    pending   --escalate--> escalated         (acceptance deadline missed)
    escalated --accept--> accepted | --decline (reason)--> declined
    suggested | pending | escalated --withdraw (reason)--> withdrawn
                                      (no longer needed: the case was corrected and re-routed)
    withdrawn --reinstate--> suggested      (a later correction needs it again; then released
                                             at once if the case is shared with the programme)
    any shared status --withdraw (consent_withdrawn)--> withdrawn
                                      (the sharing basis is gone; never the lead's referral)
    withdrawn (consent_withdrawn) --restore--> the status it had
                                      (consent given again, or a support meeting)

Only `pending` escalates: the deadline is a deadline to *accept*, and a suggested referral has
not reached the programme yet (its clock starts when it is released). `declined`, `closed` and
`withdrawn` are final, except a referral withdrawn because consent was withdrawn: that one
waits for a basis and goes back to where it was. A correction never withdraws a referral
already accepted or in progress: the programme is working with the resident. A consent
withdrawal does (the programme may no longer hold the resident's data).

Programme staff respond with `STAFF_ACTIONS` only; routing itself releases, escalates and
withdraws. `staff_actions(status)` is what every referral event carries as `allowed_actions`,
so intake and the inbox offer exactly what this module allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from tsunagu.shared.contracts.codes import Programme, ReferralStatus

from .deadlines import is_overdue
from .engine import Decision
from .errors import InvalidTransition
from .ruleset import RuleSet


class Action(StrEnum):
    """What can happen to a referral."""

    RELEASE = "release"
    ACCEPT = "accept"
    DECLINE = "decline"
    START = "start"
    CLOSE = "close"
    ESCALATE = "escalate"
    WITHDRAW = "withdraw"
    REINSTATE = "reinstate"
    RESTORE = "restore"


#: What programme staff may do to a referral (the rest is routing's own).
STAFF_ACTIONS: tuple[Action, ...] = (Action.ACCEPT, Action.DECLINE, Action.START, Action.CLOSE)


_S = ReferralStatus
TRANSITIONS: dict[tuple[ReferralStatus, Action], ReferralStatus] = {
    (_S.SUGGESTED, Action.RELEASE): _S.PENDING,
    (_S.PENDING, Action.ACCEPT): _S.ACCEPTED,
    (_S.PENDING, Action.DECLINE): _S.DECLINED,
    (_S.PENDING, Action.ESCALATE): _S.ESCALATED,
    (_S.ESCALATED, Action.ACCEPT): _S.ACCEPTED,
    (_S.ESCALATED, Action.DECLINE): _S.DECLINED,
    (_S.ACCEPTED, Action.START): _S.IN_PROGRESS,
    (_S.IN_PROGRESS, Action.CLOSE): _S.CLOSED,
    (_S.SUGGESTED, Action.WITHDRAW): _S.WITHDRAWN,
    (_S.PENDING, Action.WITHDRAW): _S.WITHDRAWN,
    (_S.ESCALATED, Action.WITHDRAW): _S.WITHDRAWN,
    (_S.WITHDRAWN, Action.REINSTATE): _S.SUGGESTED,
}


#: What a withdrawal takes back: every status in which the programme holds the case.
HOLDING_STATUSES: frozenset[ReferralStatus] = frozenset(
    {_S.PENDING, _S.ACCEPTED, _S.IN_PROGRESS, _S.ESCALATED, _S.DECLINED, _S.CLOSED}
)


#: The reason recorded on a referral withdrawn because consent was withdrawn (only those are
#: restored when a basis is given again; a correction's withdrawal is final).
WITHDRAWN_CONSENT = "consent_withdrawn"


def withdraw_for_consent(current: ReferralStatus | str) -> ReferralStatus:
    """The status of a referral whose sharing basis went away: ``withdrawn``.

    A suggested referral never reached the programme and stays suggested; a referral already
    withdrawn stays so. Raises `InvalidTransition` for those (nothing to do).
    """
    status = ReferralStatus(current)
    if status not in HOLDING_STATUSES:
        raise InvalidTransition(f"cannot withdraw a referral that is {status.value}")
    return _S.WITHDRAWN


def restore(current: ReferralStatus | str, before: ReferralStatus | str | None) -> ReferralStatus:
    """The status a withdrawn referral goes back to when a basis is given again: the one it had
    (``pending`` if that is unknown)."""
    if ReferralStatus(current) is not _S.WITHDRAWN:
        raise InvalidTransition(f"cannot restore a referral that is {current}")
    if before is None:
        return _S.PENDING
    previous = ReferralStatus(before)
    return previous if previous in HOLDING_STATUSES else _S.PENDING


def allowed_actions(current: ReferralStatus) -> tuple[Action, ...]:
    """The actions allowed from `current` (empty for the final statuses)."""
    return tuple(action for (status, action) in TRANSITIONS if status == current)


def staff_actions(current: ReferralStatus | str) -> tuple[Action, ...]:
    """The responses programme staff may submit from `current`, in lifecycle order."""
    allowed = set(allowed_actions(ReferralStatus(current)))
    return tuple(action for action in STAFF_ACTIONS if action in allowed)


def transition(
    current: ReferralStatus | str,
    action: Action | str,
    *,
    reason: str | None = None,
    outcome: str | None = None,
) -> ReferralStatus:
    """The status after `action`; raises `InvalidTransition` if it is not allowed.

    A decline needs a non-blank `reason`, a close a non-blank `outcome`.
    """
    try:
        status = ReferralStatus(current)
    except ValueError:
        raise InvalidTransition(f"unknown referral status {current!r}") from None
    try:
        act = Action(action)
    except ValueError:
        raise InvalidTransition(
            f"unknown action {action!r}; expected one of {[a.value for a in Action]}"
        ) from None
    target = TRANSITIONS.get((status, act))
    if target is None:
        allowed = [a.value for a in allowed_actions(status)] or "none (final status)"
        raise InvalidTransition(
            f"cannot {act.value} a referral that is {status.value}; allowed: {allowed}"
        )
    if act in (Action.DECLINE, Action.WITHDRAW) and not (reason and reason.strip()):
        raise InvalidTransition(f"{act.value} needs a reason")
    if act is Action.CLOSE and not (outcome and outcome.strip()):
        raise InvalidTransition("closing a referral needs an outcome")
    return target


def needs_escalation(status: ReferralStatus, deadline: datetime, now: datetime) -> bool:
    """True if a referral is still waiting for acceptance past its deadline (rule 8)."""
    return status == ReferralStatus.PENDING and is_overdue(deadline, now)


def next_after_decline(
    referred: Decision | Iterable[Programme],
    declined: Programme,
    rules: RuleSet,
) -> Programme | None:
    """Who to suggest after `declined` declined a referral.

    `referred` is every programme that holds or held a referral for the case (a `Decision`
    stands for its programmes; pass later additions too, so nobody is suggested twice).
    Returns the first programme of the rule set's `decline_fallback` that is not among them;
    otherwise the coordinator, who takes back what falls between programmes (even if it is
    already on the case); `None` when the coordinator itself declined and nobody is left,
    which the service handles by escalating to the supervisor.
    """
    programmes = set(referred.programmes if isinstance(referred, Decision) else referred)
    programmes.add(declined)
    for candidate in rules.decline_fallback:
        if candidate not in programmes:
            return candidate
    if declined != rules.coordinator:
        return rules.coordinator
    return None
