"""The rule set: shipped default, schema errors that name the field, new versions as data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tsunagu.routing.domain import (
    CaseFacts,
    RuleSet,
    RuleSetError,
    decide,
    load_rules,
    rule_set_schema,
)
from tsunagu.shared.contracts.codes import Concern, ExternalAgency, Programme


def test_default_rule_set(rules: RuleSet) -> None:
    assert rules.version == "2026.1"
    assert set(rules.concern_programmes) == set(Concern)
    assert rules.age_threshold == 65
    assert rules.age_concerns == {Concern.ELDERLY_CARE, Concern.DEMENTIA_MONEY, Concern.HEALTH}
    assert rules.compound_min_programmes == 3
    assert rules.compound_concerns == {Concern.HIKIKOMORI, Concern.FAMILY_8050}
    assert rules.coordinator is Programme.CSW_OUTREACH
    assert rules.urgent_concerns == {Concern.DV_ABUSE}
    assert rules.urgent_flags == ("no_food_today", "eviction_within_7_days")
    assert rules.urgent_hours == 1
    assert rules.business_days == 2
    assert rules.business_day_start == time(9, 0)
    assert str(rules.timezone) == "Asia/Tokyo"
    assert rules.food_parcel_concerns == {
        Concern.INCOME_SHORTFALL,
        Concern.DEBT_ARREARS,
        Concern.FOOD_INSECURITY,
    }
    assert rules.concern_external[Concern.DV_ABUSE] == (ExternalAgency.DV_CENTRE,)


def test_schema_takes_codes_from_the_contract() -> None:
    defs = rule_set_schema()["$defs"]
    assert defs["programme"]["enum"] == [p.value for p in Programme]
    assert defs["concern"]["enum"] == [c.value for c in Concern]


def test_load_from_path(tmp_path: Path, default_rules_data: dict[str, Any]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({**default_rules_data, "version": "2026.9"}), encoding="utf-8")
    assert load_rules(path).version == "2026.9"


def test_missing_file_is_a_rule_set_error(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError, match="cannot read"):
        load_rules(tmp_path / "absent.yaml")


def test_a_new_version_changes_decisions_without_code_changes(
    rules: RuleSet, default_rules_data: dict[str, Any]
) -> None:
    data = default_rules_data
    data["version"] = "2027.1"
    data["concerns"]["employment"]["external"] = ["hello_work"]
    data["concerns"]["isolation"]["programmes"] = ["csw_participation", "csw_outreach"]
    data["age"]["threshold"] = 60
    data["compound"]["min_programmes"] = 4
    new = load_rules(yaml.safe_dump(data))

    facts = CaseFacts.from_raw(concerns=["employment", "health"], age=62)
    old_decision, new_decision = decide(facts, rules), decide(facts, new)
    assert old_decision.rule_version == "2026.1"
    assert new_decision.rule_version == "2027.1"
    assert Programme.ELDERLY_SUPPORT not in old_decision.programmes
    assert Programme.ELDERLY_SUPPORT in new_decision.programmes
    assert [e.agency for e in new_decision.external_referrals] == [
        ExternalAgency.HELLO_WORK,
        ExternalAgency.HEALTH_CENTRE,
    ]

    # income_shortfall + isolation reaches 3 programmes under 2027.1, still below its threshold
    # of 4, so it is not compound although csw_outreach takes part.
    facts = CaseFacts.from_raw(concerns=["income_shortfall", "isolation"])
    assert decide(facts, rules).programmes == (
        Programme.LIFE_INDEPENDENCE,
        Programme.CSW_PARTICIPATION,
    )
    decision = decide(facts, new)
    assert not decision.compound
    assert decision.programmes == (
        Programme.LIFE_INDEPENDENCE,
        Programme.CSW_PARTICIPATION,
        Programme.CSW_OUTREACH,
    )


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        data[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        del data[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (_set("version", 2026.1), "version", "is not of type 'string'"),
        (_set("version", "latest"), "version", "does not match"),
        (_delete("version"), "(root)", "'version' is a required property"),
        (
            _set("concerns.housing.programmes", ["housing_office"]),
            "concerns.housing.programmes.0",
            "is not one of",
        ),
        (_set("concerns.gambling", {"programmes": ["life_independence"]}), "concerns", "gambling"),
        (_delete("concerns.health"), "concerns", "'health' is a required property"),
        (_set("concerns.health.external", ["hospital"]), "concerns.health.external.0", ""),
        (_set("concerns.childcare", {"programmes": []}), "concerns.childcare", "reaches no"),
        (_set("age.threshold", -1), "age.threshold", "minimum"),
        (_set("age.threshold", "65"), "age.threshold", "is not of type 'integer'"),
        (_set("age.programme", "elderly"), "age.programme", "is not one of"),
        (_set("urgency.flags", ["no_money"]), "urgency.flags.0", "is not one of"),
        (_set("compound.min_programmes", 1), "compound.min_programmes", "minimum"),
        (_set("compound.coordinator", None), "compound.coordinator", ""),
        (_set("deadlines.business_day_start", "9am"), "deadlines.business_day_start", ""),
        (_set("deadlines.timezone", "Asia/Edo"), "deadlines.timezone", "unknown time zone"),
        (_set("deadlines.urgent_hours", 0), "deadlines.urgent_hours", "minimum"),
        (_set("decline_fallback", ["csw_outreach", "csw_outreach"]), "decline_fallback", ""),
        (_set("food_parcel", {"concern": ["housing"]}), "food_parcel", ""),
        (_set("extra_rule", True), "(root)", "extra_rule"),
    ],
)
def test_schema_errors_name_the_field(
    mutate: Mutation, field: str, message: str, default_rules_data: dict[str, Any]
) -> None:
    data = default_rules_data
    mutate(data)
    with pytest.raises(RuleSetError) as excinfo:
        load_rules(yaml.safe_dump(data))
    text = str(excinfo.value)
    assert text.startswith(f"rule set field {field!r}"), text
    assert message in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: [unclosed", "not valid YAML"),
        ("", "(root)"),
        ("- just\n- a list\n", "(root)"),
    ],
)
def test_unreadable_rule_sets(text: str, message: str) -> None:
    with pytest.raises(RuleSetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_rules(text)
