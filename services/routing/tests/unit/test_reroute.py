"""Re-routing a corrected case: which referrals are added, withdrawn, kept (no I/O)."""

from __future__ import annotations

import pytest

from tsunagu.routing.domain import (
    WITHDRAWN_NOT_NEEDED,
    CaseFacts,
    HeldReferral,
    RuleSet,
    decide,
    reroute,
)
from tsunagu.shared.contracts.codes import Programme, ReferralRole, ReferralStatus, SharingBasis

P, S, R = Programme, ReferralStatus, ReferralRole


def held(programme: P, status: S, role: R = R.MEMBER) -> HeldReferral:
    return HeldReferral(f"ref-{programme.value}", programme, role, status)


def facts(*concerns: str, basis: SharingBasis = SharingBasis.CONSENT) -> CaseFacts:
    return CaseFacts.from_raw(concerns=concerns, sharing_basis=basis)


def test_new_needs_are_added_in_the_decisions_order(rules: RuleSet) -> None:
    decision = decide(facts("income_shortfall", "disability", "dementia_money"), rules)
    plan = reroute(decision, [held(P.LIFE_INDEPENDENCE, S.PENDING, R.LEAD)])
    assert plan.add == (P.CSW_OUTREACH, P.DISABILITY_SUPPORT, P.ADULT_GUARDIANSHIP)
    assert plan.withdraw == ()
    # The coordinator leads now: the former lead becomes a member.
    assert plan.roles == {"ref-life_independence": R.MEMBER}


@pytest.mark.parametrize("status", [S.SUGGESTED, S.PENDING, S.ESCALATED])
def test_referrals_not_taken_up_are_withdrawn_when_no_longer_needed(
    rules: RuleSet, status: S
) -> None:
    decision = decide(facts("income_shortfall"), rules)
    plan = reroute(
        decision,
        [held(P.LIFE_INDEPENDENCE, S.PENDING, R.LEAD), held(P.CSW_PARTICIPATION, status)],
    )
    assert plan.withdraw == ("ref-csw_participation",)
    assert plan.add == ()
    assert plan.changed


@pytest.mark.parametrize("status", [S.ACCEPTED, S.IN_PROGRESS])
def test_referrals_taken_up_are_kept_and_never_lead_beside_the_new_lead(
    rules: RuleSet, status: S
) -> None:
    decision = decide(facts("isolation"), rules)
    plan = reroute(decision, [held(P.LIFE_INDEPENDENCE, status, R.LEAD)])
    assert plan.withdraw == ()
    assert plan.add == (P.CSW_PARTICIPATION,)
    assert plan.roles == {"ref-life_independence": R.MEMBER}


@pytest.mark.parametrize("status", [S.DECLINED, S.CLOSED, S.WITHDRAWN])
def test_ended_referrals_stay_and_their_programme_is_not_asked_again(
    rules: RuleSet, status: S
) -> None:
    decision = decide(facts("income_shortfall"), rules)
    plan = reroute(decision, [held(P.LIFE_INDEPENDENCE, status, R.LEAD)])
    assert plan == type(plan)(add=(), withdraw=(), roles={})
    assert not plan.changed


def test_without_a_sharing_basis_new_programmes_await_consent(rules: RuleSet) -> None:
    decision = decide(facts("income_shortfall", "isolation", basis=SharingBasis.NONE), rules)
    plan = reroute(decision, [held(P.LIFE_INDEPENDENCE, S.PENDING, R.LEAD)])
    assert plan.add == (P.CSW_PARTICIPATION,)
    assert decision.initial_status(P.CSW_PARTICIPATION) is S.SUGGESTED


def test_a_referral_a_correction_withdrew_is_reinstated_when_needed_again(rules: RuleSet) -> None:
    decision = decide(facts("income_shortfall", "isolation"), rules)
    withdrawn = HeldReferral(
        "ref-csw", P.CSW_PARTICIPATION, R.MEMBER, S.WITHDRAWN, WITHDRAWN_NOT_NEEDED
    )
    plan = reroute(decision, [held(P.LIFE_INDEPENDENCE, S.ACCEPTED, R.LEAD), withdrawn])
    assert plan.reinstate == ("ref-csw",)
    assert plan.add == ()
    # Withdrawn for another reason (e.g. consent withdrawn): stays withdrawn.
    other = HeldReferral("ref-csw", P.CSW_PARTICIPATION, R.MEMBER, S.WITHDRAWN, "consent")
    plan = reroute(decision, [held(P.LIFE_INDEPENDENCE, S.ACCEPTED, R.LEAD), other])
    assert plan.reinstate == ()
    assert plan.add == ()
