"""Translations between the contracts and the domain, and the explain body (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tsunagu.routing.domain import RuleSet, load_rules
from tsunagu.routing.entrypoints.http import ExplainRequest
from tsunagu.routing.service_layer.mapping import (
    check_event_concerns,
    decision_for,
    decision_of_event,
    decision_view,
)
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.codes import Concern, SharingBasis
from tsunagu.shared.messaging import PermanentError


def test_contract_facts_become_flat_domain_facts() -> None:
    facts = intake.CaseFacts(
        concerns=["income_shortfall", "housing"],
        most_pressing="housing",
        age=40,
        lives_alone=True,
        special_loan_borrower=True,
        urgent={"no_food_today": True, "eviction_within_7_days": False},
    )
    flat, _ = decision_for(facts, SharingBasis.SUPPORT_MEETING, load_rules())
    assert flat.concerns == (Concern.INCOME_SHORTFALL, Concern.HOUSING)
    assert flat.most_pressing is Concern.HOUSING
    assert flat.no_food_today is True
    assert flat.eviction_within_7_days is False
    assert flat.special_loan_borrower is True
    assert flat.sharing_basis is SharingBasis.SUPPORT_MEETING


def test_facts_the_domain_refuses_are_permanent_errors() -> None:
    facts = intake.CaseFacts(concerns=["housing"], most_pressing="isolation")
    with pytest.raises(PermanentError, match="most_pressing"):
        decision_of_event(facts, SharingBasis.CONSENT, load_rules())


@pytest.mark.parametrize(
    ("facts", "unknown"),
    [
        ({"concerns": ["income_shortfall", "gambling"]}, "'gambling'"),
        ({"concerns": ["housing"], "most_pressing": "pets"}, "'pets'"),
    ],
)
def test_unknown_concern_codes_in_an_event_are_permanent(facts: dict, unknown: str) -> None:
    with pytest.raises(PermanentError, match=f"unknown concern code.*{unknown}"):
        check_event_concerns({"facts": facts})


def test_known_concern_codes_pass() -> None:
    check_event_concerns({"facts": {"concerns": ["housing"], "most_pressing": "housing"}})
    check_event_concerns({})  # a missing field is the contract validation's to report


#: Intake's explain body: the contract's facts and the sharing basis; anything else is dropped.
EXPLAIN_BODY: dict[str, Any] = {
    "facts": {
        "concerns": ["income_shortfall", "isolation"],
        "most_pressing": "income_shortfall",
        "age": 78,
        "lives_alone": True,
    },
    "sharing_basis": "consent",
    "name": "川口 花子",
}


def test_the_explain_body_keeps_only_what_routing_decides_on(rules: RuleSet) -> None:
    body = ExplainRequest.model_validate(EXPLAIN_BODY)
    assert "川口" not in body.model_dump_json()
    facts, decision = decision_for(body.facts, body.sharing_basis, rules)
    assert facts.age == 78
    assert facts.lives_alone is True
    assert facts.sharing_basis is SharingBasis.CONSENT
    assert decision.programmes[0].value == "life_independence"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"facts": {"concerns": ["housing", "gambling"]}}, ("facts",), "unknown concern code"),
        ({"facts": {"concerns": []}}, ("facts", "concerns"), ""),
        ({"facts": {"concerns": ["housing"], "most_pressing": "pets"}}, ("facts",), "unknown"),
        ({"facts": {"concerns": ["housing"], "age": 131}}, ("facts", "age"), ""),
        ({"facts": {"concerns": ["housing"]}, "sharing_basis": "verbal"}, ("sharing_basis",), ""),
    ],
)
def test_explain_body_errors_name_the_field(
    body: dict[str, Any], field: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ExplainRequest.model_validate(body)
    error = excinfo.value.errors()[0]
    assert error["loc"][: len(field)] == field
    assert message in error["msg"]


def test_decision_view_names_external_reasons_as_data(rules: RuleSet) -> None:
    body = ExplainRequest.model_validate({"facts": {"concerns": ["dv_abuse", "childcare"]}})
    view = decision_view(decision_for(body.facts, body.sharing_basis, rules)[1])
    assert view["urgent"] is True
    assert view["external"] == [
        {
            "agency": "dv_centre",
            "reasons": [{"code": "concern", "params": {"concern": "dv_abuse"}}],
        },
        {
            "agency": "child_family_centre",
            "reasons": [{"code": "concern", "params": {"concern": "childcare"}}],
        },
    ]
    assert "external_referrals" not in view
