"""The referral lifecycle: allowed transitions, escalation, and the suggestion after a decline."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tsunagu.routing.domain import (
    Action,
    CaseFacts,
    InvalidTransition,
    RuleSet,
    allowed_actions,
    decide,
    needs_escalation,
    next_after_decline,
    staff_actions,
    transition,
)
from tsunagu.shared.contracts.codes import Programme, ReferralStatus

S = ReferralStatus
P = Programme


@pytest.mark.parametrize(
    ("current", "action", "target"),
    [
        (S.SUGGESTED, Action.RELEASE, S.PENDING),
        (S.PENDING, Action.ACCEPT, S.ACCEPTED),
        (S.PENDING, Action.DECLINE, S.DECLINED),
        (S.PENDING, Action.ESCALATE, S.ESCALATED),
        (S.ESCALATED, Action.ACCEPT, S.ACCEPTED),
        (S.ESCALATED, Action.DECLINE, S.DECLINED),
        (S.ACCEPTED, Action.START, S.IN_PROGRESS),
        (S.IN_PROGRESS, Action.CLOSE, S.CLOSED),
        (S.SUGGESTED, Action.WITHDRAW, S.WITHDRAWN),
        (S.PENDING, Action.WITHDRAW, S.WITHDRAWN),
        (S.ESCALATED, Action.WITHDRAW, S.WITHDRAWN),
        (S.WITHDRAWN, Action.REINSTATE, S.SUGGESTED),
    ],
)
def test_valid_transitions(current: S, action: Action, target: S) -> None:
    assert transition(current, action, reason="not our area", outcome="resolved") is target
    # Raw strings, as they arrive from an HTTP request or an event, work too.
    assert transition(current.value, action.value, reason="x", outcome="y") is target


VALID = {
    (S.SUGGESTED, Action.RELEASE),
    (S.PENDING, Action.ACCEPT),
    (S.PENDING, Action.DECLINE),
    (S.PENDING, Action.ESCALATE),
    (S.ESCALATED, Action.ACCEPT),
    (S.ESCALATED, Action.DECLINE),
    (S.ACCEPTED, Action.START),
    (S.IN_PROGRESS, Action.CLOSE),
    (S.SUGGESTED, Action.WITHDRAW),
    (S.PENDING, Action.WITHDRAW),
    (S.ESCALATED, Action.WITHDRAW),
    (S.WITHDRAWN, Action.REINSTATE),
}


@pytest.mark.parametrize(
    ("current", "action"),
    [(s, a) for s in ReferralStatus for a in Action if (s, a) not in VALID],
)
def test_every_other_transition_is_invalid(current: S, action: Action) -> None:
    with pytest.raises(InvalidTransition, match=f"cannot {action.value} a referral that is"):
        transition(current, action, reason="r", outcome="o")


@pytest.mark.parametrize(
    ("current", "message"),
    [
        (S.CLOSED, "allowed: none (final status)"),
        (S.DECLINED, "allowed: none (final status)"),
        (S.ACCEPTED, "allowed: ['start']"),
    ],
)
def test_invalid_transition_messages_say_what_is_allowed(current: S, message: str) -> None:
    with pytest.raises(InvalidTransition) as excinfo:
        transition(current, Action.ESCALATE)
    assert message in str(excinfo.value)


@pytest.mark.parametrize("reason", [None, "", "   "])
@pytest.mark.parametrize("current", [S.PENDING, S.ESCALATED])
def test_decline_needs_a_reason(current: S, reason: str | None) -> None:
    with pytest.raises(InvalidTransition, match="needs a reason"):
        transition(current, Action.DECLINE, reason=reason)


@pytest.mark.parametrize("outcome", [None, "", "\n"])
def test_close_needs_an_outcome(outcome: str | None) -> None:
    with pytest.raises(InvalidTransition, match="needs an outcome"):
        transition(S.IN_PROGRESS, Action.CLOSE, outcome=outcome)


@pytest.mark.parametrize(
    ("current", "action", "message"),
    [("pending", "approve", "unknown action 'approve'"), ("open", "accept", "unknown referral")],
)
def test_unknown_codes(current: str, action: str, message: str) -> None:
    with pytest.raises(InvalidTransition, match=message):
        transition(current, action)


def test_allowed_actions() -> None:
    assert allowed_actions(S.PENDING) == (
        Action.ACCEPT,
        Action.DECLINE,
        Action.ESCALATE,
        Action.WITHDRAW,
    )
    assert allowed_actions(S.CLOSED) == ()
    assert allowed_actions(S.WITHDRAWN) == (Action.REINSTATE,)


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        (S.SUGGESTED, ()),
        (S.PENDING, (Action.ACCEPT, Action.DECLINE)),
        (S.ESCALATED, (Action.ACCEPT, Action.DECLINE)),
        (S.ACCEPTED, (Action.START,)),
        (S.IN_PROGRESS, (Action.CLOSE,)),
        (S.DECLINED, ()),
        (S.CLOSED, ()),
        (S.WITHDRAWN, ()),
    ],
)
def test_staff_may_only_respond_as_the_lifecycle_allows(status: S, actions: tuple) -> None:
    """What every referral event carries as ``allowed_actions``: accepted referrals cannot be
    declined or closed before they are started."""
    assert staff_actions(status) == actions
    for action in actions:
        transition(status, action, reason="r", outcome="o")


def test_withdrawing_needs_a_reason() -> None:
    with pytest.raises(InvalidTransition, match="withdraw needs a reason"):
        transition(S.PENDING, Action.WITHDRAW)


TOKYO = ZoneInfo("Asia/Tokyo")
DEADLINE = datetime(2026, 7, 15, 10, 0, tzinfo=TOKYO)


@pytest.mark.parametrize(
    ("status", "now", "escalate"),
    [
        (S.PENDING, DEADLINE + timedelta(seconds=1), True),
        (S.PENDING, DEADLINE, False),
        (S.SUGGESTED, DEADLINE + timedelta(days=1), False),
        (S.ACCEPTED, DEADLINE + timedelta(days=1), False),
        (S.ESCALATED, DEADLINE + timedelta(days=1), False),
    ],
)
def test_needs_escalation(status: S, now: datetime, escalate: bool) -> None:
    assert needs_escalation(status, DEADLINE, now) is escalate


@pytest.mark.parametrize(
    ("referred", "declined", "suggested"),
    [
        # life_independence is first in the fallback order and not yet on the case.
        ([P.ADULT_GUARDIANSHIP], P.ADULT_GUARDIANSHIP, P.LIFE_INDEPENDENCE),
        # Already on the case: hand to the coordinator.
        ([P.LIFE_INDEPENDENCE, P.CSW_PARTICIPATION], P.CSW_PARTICIPATION, P.CSW_OUTREACH),
        # The fallback itself declined: the coordinator.
        ([P.LIFE_INDEPENDENCE], P.LIFE_INDEPENDENCE, P.CSW_OUTREACH),
        # A member of a compound case declined: back to the coordinator already on the case.
        ([P.CSW_OUTREACH, P.LIFE_INDEPENDENCE], P.LIFE_INDEPENDENCE, P.CSW_OUTREACH),
        # The coordinator declined but life_independence was never asked.
        ([P.CSW_OUTREACH], P.CSW_OUTREACH, P.LIFE_INDEPENDENCE),
        # Nobody left: the service escalates to the supervisor.
        ([P.CSW_OUTREACH, P.LIFE_INDEPENDENCE], P.CSW_OUTREACH, None),
    ],
)
def test_next_after_decline(
    rules: RuleSet, referred: list[P], declined: P, suggested: P | None
) -> None:
    assert next_after_decline(referred, declined, rules) == suggested


def test_next_after_decline_accepts_a_decision(rules: RuleSet) -> None:
    decision = decide(CaseFacts.from_raw(concerns=["dementia_money", "isolation"]), rules)
    assert next_after_decline(decision, P.ADULT_GUARDIANSHIP, rules) is P.LIFE_INDEPENDENCE
    decision = decide(CaseFacts.from_raw(concerns=["income_shortfall", "isolation"]), rules)
    assert next_after_decline(decision, P.CSW_PARTICIPATION, rules) is P.CSW_OUTREACH


def test_a_withdrawal_takes_back_every_shared_referral_and_restore_puts_it_back() -> None:
    from tsunagu.routing.domain import restore, withdraw_for_consent

    for status in ("pending", "accepted", "in_progress", "escalated", "declined", "closed"):
        assert withdraw_for_consent(status) is ReferralStatus.WITHDRAWN
        assert restore(ReferralStatus.WITHDRAWN, status) is ReferralStatus(status)
    for never_shared in ("suggested", "withdrawn"):
        with pytest.raises(InvalidTransition):
            withdraw_for_consent(never_shared)
    assert restore("withdrawn", None) is ReferralStatus.PENDING
    with pytest.raises(InvalidTransition):
        restore("pending", "accepted")
    # A programme cannot answer a withdrawn referral, and it never escalates.
    with pytest.raises(InvalidTransition):
        transition("withdrawn", "accept")
