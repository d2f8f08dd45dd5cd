"""Translations between the contracts and the domain, and the explain body (no I/O)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from tsunagu.routing.domain import RuleSet, decide
from tsunagu.routing.entrypoints.http import ExplainRequest
from tsunagu.routing.service_layer.mapping import (
    age_on,
    check_event_concerns,
    decision_view,
    domain_facts,
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
    flat = domain_facts(facts, SharingBasis.SUPPORT_MEETING)
    assert flat.concerns == (Concern.INCOME_SHORTFALL, Concern.HOUSING)
    assert flat.most_pressing is Concern.HOUSING
    assert flat.no_food_today is True
    assert flat.eviction_within_7_days is False
    assert flat.special_loan_borrower is True
    assert flat.sharing_basis is SharingBasis.SUPPORT_MEETING


def test_facts_the_domain_refuses_are_permanent_errors() -> None:
    facts = intake.CaseFacts(concerns=["housing"], most_pressing="isolation")
    with pytest.raises(PermanentError, match="most_pressing"):
        domain_facts(facts, SharingBasis.CONSENT)


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


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(1948, 5, 1), date(2026, 4, 30), 77),
        (date(1948, 5, 1), date(2026, 5, 1), 78),
        (date(2000, 2, 29), date(2026, 2, 28), 25),
        (date(2000, 2, 29), date(2026, 3, 1), 26),
    ],
)
def test_age_on(birth: date, today: date, age: int) -> None:
    assert age_on(birth, today) == age


INTAKE_BODY: dict[str, Any] = {
    "event_id": "2025-06-aeon-kawaguchi",
    "resident": {
        "name": "川口 花子",
        "name_kana": "かわぐち はなこ",
        "birth_date": "1948-05-01",
        "phone": "090-1234-5678",
        "lives_alone": True,
    },
    "concerns": ["income_shortfall", "isolation"],
    "most_pressing": "income_shortfall",
    "urgent": {"no_food_today": False, "eviction_within_7_days": False},
    "consent": {"share_across_programmes": True, "basis": "consent", "contact_channels": ["phone"]},
    "notes": "話し相手がほしいとのこと",
}


def test_the_explain_body_keeps_only_what_routing_decides_on() -> None:
    body = ExplainRequest.model_validate(INTAKE_BODY)
    dumped = body.model_dump_json()
    for personal in ("川口", "かわぐち", "090", "話し相手"):
        assert personal not in dumped
    facts = body.facts(date(2026, 6, 1))
    assert facts.age == 78
    assert facts.lives_alone is True
    assert facts.sharing_basis is SharingBasis.CONSENT


def test_blank_form_values_mean_not_given() -> None:
    body = ExplainRequest.model_validate(
        {"concerns": ["housing"], "most_pressing": "", "resident": {"birth_date": "", "age": 70}}
    )
    assert body.most_pressing is None
    assert body.facts(date(2026, 6, 1)).age == 70


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"concerns": ["housing", "gambling"]}, ("concerns",), "unknown concern code"),
        ({"concerns": []}, ("concerns",), ""),
        ({"concerns": ["housing"], "most_pressing": "pets"}, ("most_pressing",), "unknown"),
        ({"concerns": ["housing"], "most_pressing": "isolation"}, ("most_pressing",), "one of"),
        ({"concerns": ["housing"], "resident": {"age": 131}}, ("resident", "age"), ""),
        ({"concerns": ["housing"], "consent": {"basis": "verbal"}}, ("consent", "basis"), ""),
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


def test_decision_view_joins_external_reasons(rules: RuleSet) -> None:
    body = ExplainRequest.model_validate({"concerns": ["dv_abuse", "childcare"]})
    view = decision_view(decide(body.facts(date(2026, 6, 1)), rules))
    assert view["urgent"] is True
    assert view["external"] == [
        {"agency": "dv_centre", "reason": "concern dv_abuse"},
        {"agency": "child_family_centre", "reason": "concern childcare"},
    ]
    assert "external_referrals" not in view
