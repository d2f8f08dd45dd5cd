"""Case facts: parsing raw codes and rejecting what cannot be routed."""

from __future__ import annotations

from typing import Any

import pytest

from tsunagu.routing.domain import CaseFacts, InvalidCaseFacts, UnknownConcernError
from tsunagu.shared.contracts.codes import Concern, SharingBasis


def test_from_raw_parses_codes() -> None:
    facts = CaseFacts.from_raw(
        concerns=["income_shortfall", "isolation"],
        most_pressing="income_shortfall",
        age=78,
        lives_alone=True,
        sharing_basis="consent",
    )
    assert facts.concerns == (Concern.INCOME_SHORTFALL, Concern.ISOLATION)
    assert facts.most_pressing is Concern.INCOME_SHORTFALL
    assert facts.sharing_basis is SharingBasis.CONSENT
    assert facts.lives_alone is True


def test_defaults_are_the_safe_ones() -> None:
    facts = CaseFacts.from_raw(concerns=[])
    assert facts.sharing_basis is SharingBasis.NONE
    assert facts.most_pressing is None
    assert facts.age is None


def test_duplicate_concerns_are_dropped_keeping_order() -> None:
    facts = CaseFacts.from_raw(concerns=["housing", "isolation", "housing"])
    assert facts.concerns == (Concern.HOUSING, Concern.ISOLATION)


def test_direct_construction_coerces_strings() -> None:
    facts = CaseFacts(concerns=("housing",), most_pressing="housing")  # type: ignore[arg-type]
    assert facts.concerns == (Concern.HOUSING,)
    assert facts.most_pressing is Concern.HOUSING


@pytest.mark.parametrize(
    ("concerns", "unknown"),
    [
        (["income_shortfall", "gambling"], ["gambling"]),
        (["INCOME_SHORTFALL"], ["INCOME_SHORTFALL"]),
        (["", "pets", "housing"], ["", "pets"]),
    ],
)
def test_unknown_concern_codes_are_rejected(concerns: list[str], unknown: list[str]) -> None:
    with pytest.raises(UnknownConcernError) as excinfo:
        CaseFacts.from_raw(concerns=concerns)
    assert excinfo.value.codes == unknown
    for code in unknown:
        assert repr(code) in str(excinfo.value)


def test_unknown_most_pressing_is_an_unknown_concern() -> None:
    with pytest.raises(UnknownConcernError):
        CaseFacts.from_raw(concerns=["housing"], most_pressing="gambling")


def test_direct_construction_rejects_unknown_codes_too() -> None:
    with pytest.raises(UnknownConcernError):
        CaseFacts(concerns=("gambling",))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concerns": ["housing"], "most_pressing": "isolation"}, "not one of the case's"),
        ({"concerns": "housing"}, "list of codes"),
        ({"concerns": [], "age": -1}, "age"),
        ({"concerns": [], "age": 131}, "age"),
        ({"concerns": [], "age": True}, "age"),
        ({"concerns": [], "age": "78"}, "age"),
        ({"concerns": [], "sharing_basis": "verbal"}, "sharing_basis"),
        ({"concerns": [], "no_food_today": "yes"}, "no_food_today"),
    ],
)
def test_invalid_facts_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidCaseFacts, match=message):
        CaseFacts.from_raw(**kwargs)


@pytest.mark.parametrize("age", [0, 64, 65, 130])
def test_boundary_ages_are_accepted(age: int) -> None:
    assert CaseFacts.from_raw(concerns=[], age=age).age == age


def test_flag_by_name() -> None:
    facts = CaseFacts.from_raw(concerns=[], eviction_within_7_days=True)
    assert facts.flag("eviction_within_7_days") is True
    assert facts.flag("no_food_today") is False
    with pytest.raises(KeyError):
        facts.flag("age")
