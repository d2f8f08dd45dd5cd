"""Properties that hold for every decision, whatever the facts."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tsunagu.routing.domain import CaseFacts, RuleSet, decide, load_rules
from tsunagu.shared.contracts.codes import Concern, ReferralRole, SharingBasis

RULES: RuleSet = load_rules()


@st.composite
def case_facts(draw: st.DrawFn) -> CaseFacts:
    concerns = draw(st.lists(st.sampled_from(list(Concern)), unique=True, max_size=8))
    most_pressing = draw(st.one_of(st.none(), st.sampled_from(concerns))) if concerns else None
    return CaseFacts(
        concerns=tuple(concerns),
        most_pressing=most_pressing,
        age=draw(st.one_of(st.none(), st.integers(min_value=0, max_value=110))),
        disability_certificate=draw(st.booleans()),
        special_loan_borrower=draw(st.booleans()),
        lives_alone=draw(st.booleans()),
        no_food_today=draw(st.booleans()),
        eviction_within_7_days=draw(st.booleans()),
        sharing_basis=draw(st.sampled_from(list(SharingBasis))),
    )


# database=None: no example database is written into the working tree.
@settings(max_examples=400, database=None, deadline=None)
@given(case_facts())
def test_every_decision_is_consistent(facts: CaseFacts) -> None:
    decision = decide(facts, RULES)
    programmes = decision.programmes

    assert len(set(programmes)) == len(programmes)
    assert decision.lead in programmes
    assert programmes[0] == decision.lead

    assert set(decision.shared) | set(decision.awaiting_consent) == set(programmes)
    assert not set(decision.shared) & set(decision.awaiting_consent)
    assert decision.lead in decision.shared
    if facts.sharing_basis is SharingBasis.NONE:
        assert decision.shared == (decision.lead,)
    else:
        assert decision.awaiting_consent == ()

    assert set(decision.roles) == set(programmes) == set(decision.reasons)
    assert all(decision.reasons[p] for p in programmes)
    if decision.compound:
        assert decision.coordinator == decision.lead == RULES.coordinator
        assert decision.roles[decision.lead] is ReferralRole.COORDINATOR
    else:
        assert decision.coordinator is None
        assert decision.roles[decision.lead] is ReferralRole.LEAD
    assert sum(r is not ReferralRole.MEMBER for r in decision.roles.values()) == 1

    assert decision.food_parcel_eligible is any(
        c in RULES.food_parcel_concerns for c in facts.concerns
    )
    assert decision.urgent is bool(decision.urgent_reasons)
    assert decision.rule_version == RULES.version
    assert json.loads(json.dumps(decision.to_dict())) == decision.to_dict()
