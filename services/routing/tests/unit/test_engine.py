"""Routing decisions under the default rule set: domain rules 1–9 and the article's cases."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from tsunagu.routing.domain import CaseFacts, Decision, RuleSet, decide
from tsunagu.routing.domain.engine import ExternalReferral
from tsunagu.shared.contracts.codes import (
    Concern,
    ExternalAgency,
    Programme,
    ReferralRole,
    ReferralStatus,
    SharingBasis,
)
from tsunagu.shared.contracts.reasons import Reason

P = Programme
A = ExternalAgency


def sentence(reason: Reason) -> str:
    """A reason's code and parameters in one line, so that the tests below read as the rules
    do (every code and parameter is compared exactly)."""
    p = reason.params
    return {
        "concern": lambda: f"concern {p.get('concern')}",
        "age_and_concern": lambda: (
            f"age {p.get('age')} ≥ {p.get('threshold')} and concern {p.get('concern')}"
        ),
        "disability_certificate": lambda: "disability certificate",
        "special_loan_borrower": lambda: "special-loan borrower",
        "compound_programmes": lambda: f"compound: {p.get('count')} programmes",
        "compound_concerns": lambda: (
            f"compound: {'concern' if len(p['concerns']) == 1 else 'concerns'} "  # type: ignore[arg-type]
            + ", ".join(p["concerns"])  # type: ignore[arg-type]
        ),
        "lead_coordinator": lambda: "lead: coordinator of a compound case",
        "lead_most_pressing": lambda: f"lead: most pressing concern {p.get('concern')}",
        "lead_first_concern": lambda: (
            f"lead: first concern reaching a programme, {p.get('concern')}"
        ),
        "lead_first_programme": lambda: "lead: first programme reached",
        "lead_default": lambda: "lead: default lead",
        "no_programme_reached": lambda: "no council programme reached",
        "flag": lambda: f"flag {p.get('flag')}",
    }[reason.code.value]()


def said(decision: Decision) -> Decision:
    """The decision with every reason as its one-line form (see `sentence`)."""
    return dataclasses.replace(
        decision,
        reasons={p: tuple(map(sentence, why)) for p, why in decision.reasons.items()},
        urgent_reasons=tuple(map(sentence, decision.urgent_reasons)),  # type: ignore[arg-type]
        external_referrals=tuple(
            ExternalReferral(e.agency, tuple(map(sentence, e.reasons)))  # type: ignore[arg-type]
            for e in decision.external_referrals
        ),
    )


def route(rules: RuleSet, concerns: list[str], **kwargs: Any) -> Decision:
    return said(decide(CaseFacts.from_raw(concerns=concerns, **kwargs), rules))


def raw(rules: RuleSet, concerns: list[str], **kwargs: Any) -> Decision:
    return decide(CaseFacts.from_raw(concerns=concerns, **kwargs), rules)


def r(code: str, **params: Any) -> dict[str, Any]:
    return {"code": code, "params": params}


# Rule 1: every concern alone (age unknown, no flags). The lead of a concern that reaches only
# an external agency is the default lead, so that someone in the council follows it up.
@pytest.mark.parametrize(
    ("concern", "programmes", "external", "compound", "urgent", "food"),
    [
        (Concern.INCOME_SHORTFALL, [P.LIFE_INDEPENDENCE], [], False, False, True),
        (Concern.DEBT_ARREARS, [P.LIFE_INDEPENDENCE], [], False, False, True),
        (Concern.SPECIAL_LOAN_REPAYMENT, [P.WELFARE_FUND], [], False, False, False),
        (Concern.LOAN_REQUEST, [P.WELFARE_FUND], [], False, False, False),
        (Concern.HOUSING, [P.LIFE_INDEPENDENCE], [], False, False, False),
        (Concern.EMPLOYMENT, [P.LIFE_INDEPENDENCE], [], False, False, False),
        (Concern.FOOD_INSECURITY, [P.LIFE_INDEPENDENCE], [], False, False, True),
        (Concern.ISOLATION, [P.CSW_PARTICIPATION], [], False, False, False),
        (Concern.HIKIKOMORI, [P.CSW_OUTREACH], [], True, False, False),
        (Concern.FAMILY_8050, [P.CSW_OUTREACH], [], True, False, False),
        (Concern.ELDERLY_CARE, [P.ELDERLY_SUPPORT], [], False, False, False),
        (Concern.DEMENTIA_MONEY, [P.ADULT_GUARDIANSHIP], [], False, False, False),
        (Concern.GUARDIANSHIP, [P.ADULT_GUARDIANSHIP], [], False, False, False),
        (Concern.DISABILITY, [P.DISABILITY_SUPPORT], [], False, False, False),
        (Concern.HEALTH, [P.LIFE_INDEPENDENCE], [A.HEALTH_CENTRE], False, False, False),
        (Concern.CHILDCARE, [P.LIFE_INDEPENDENCE], [A.CHILD_FAMILY_CENTRE], False, False, False),
        (Concern.DV_ABUSE, [P.LIFE_INDEPENDENCE], [A.DV_CENTRE], False, True, False),
    ],
)
def test_every_concern_alone(
    rules: RuleSet,
    concern: Concern,
    programmes: list[Programme],
    external: list[ExternalAgency],
    compound: bool,
    urgent: bool,
    food: bool,
) -> None:
    decision = route(rules, [concern])
    assert list(decision.programmes) == programmes
    assert decision.lead == programmes[0]
    assert [e.agency for e in decision.external_referrals] == external
    assert decision.compound is compound
    assert decision.urgent is urgent
    assert decision.food_parcel_eligible is food
    if external:
        assert decision.reasons[decision.lead] == (
            "no council programme reached",
            "lead: default lead",
        )
        assert decision.external_referrals[0].reasons == (f"concern {concern}",)
    else:
        assert f"concern {concern}" in decision.reasons[decision.lead]


def test_rule_1_each_concern_adds_its_programmes_in_order(rules: RuleSet) -> None:
    decision = route(rules, ["isolation", "special_loan_repayment"])
    assert decision.programmes == (P.CSW_PARTICIPATION, P.WELFARE_FUND)
    assert decision.reasons == {
        P.CSW_PARTICIPATION: (
            "concern isolation",
            "lead: first concern reaching a programme, isolation",
        ),
        P.WELFARE_FUND: ("concern special_loan_repayment",),
    }


def test_rule_1_concerns_sharing_a_programme_add_it_once(rules: RuleSet) -> None:
    decision = route(rules, ["income_shortfall", "debt_arrears", "housing"])
    assert decision.programmes == (P.LIFE_INDEPENDENCE,)
    assert decision.reasons[P.LIFE_INDEPENDENCE][:3] == (
        "concern income_shortfall",
        "concern debt_arrears",
        "concern housing",
    )


# Rule 2: age 65 or over with elderly_care, dementia_money or health adds elderly_support.
@pytest.mark.parametrize(
    ("age", "concern", "programmes", "age_reason"),
    [
        (64, "health", [P.LIFE_INDEPENDENCE], None),
        (65, "health", [P.ELDERLY_SUPPORT], "age 65 ≥ 65 and concern health"),
        (None, "health", [P.LIFE_INDEPENDENCE], None),
        (64, "dementia_money", [P.ADULT_GUARDIANSHIP], None),
        (
            78,
            "dementia_money",
            [P.ADULT_GUARDIANSHIP, P.ELDERLY_SUPPORT],
            "age 78 ≥ 65 and concern dementia_money",
        ),
        (40, "elderly_care", [P.ELDERLY_SUPPORT], None),
        (70, "elderly_care", [P.ELDERLY_SUPPORT], "age 70 ≥ 65 and concern elderly_care"),
        (90, "income_shortfall", [P.LIFE_INDEPENDENCE], None),
        (90, "guardianship", [P.ADULT_GUARDIANSHIP], None),
    ],
)
def test_rule_2_age(
    rules: RuleSet,
    age: int | None,
    concern: str,
    programmes: list[Programme],
    age_reason: str | None,
) -> None:
    decision = route(rules, [concern], age=age)
    assert list(decision.programmes) == programmes
    all_reasons = [r for why in decision.reasons.values() for r in why]
    if age_reason is None:
        assert not any(r.startswith("age ") for r in all_reasons)
    else:
        assert age_reason in decision.reasons[P.ELDERLY_SUPPORT]


def test_rule_2_health_at_65_keeps_the_external_referral(rules: RuleSet) -> None:
    for age in (64, 65):
        decision = route(rules, ["health"], age=age)
        assert [e.agency for e in decision.external_referrals] == [A.HEALTH_CENTRE]


def test_rule_2_health_at_65_is_led_by_elderly_support(rules: RuleSet) -> None:
    decision = route(rules, ["health"], age=65, most_pressing="health")
    assert decision.lead is P.ELDERLY_SUPPORT
    assert decision.reasons[P.ELDERLY_SUPPORT] == (
        "age 65 ≥ 65 and concern health",
        "lead: most pressing concern health",
    )


# Rule 3: a disability certificate or the disability concern adds disability_support.
@pytest.mark.parametrize(
    ("concerns", "certificate", "reasons"),
    [
        ([], True, ("disability certificate", "lead: first programme reached")),
        (
            ["disability"],
            False,
            ("concern disability", "lead: first concern reaching a programme, disability"),
        ),
        (
            ["disability"],
            True,
            (
                "concern disability",
                "disability certificate",
                "lead: first concern reaching a programme, disability",
            ),
        ),
    ],
)
def test_rule_3_disability(
    rules: RuleSet, concerns: list[str], certificate: bool, reasons: tuple[str, ...]
) -> None:
    decision = route(rules, concerns, disability_certificate=certificate)
    assert decision.programmes == (P.DISABILITY_SUPPORT,)
    assert decision.reasons[P.DISABILITY_SUPPORT] == reasons


# Rule 4: a special-loan borrower adds welfare_fund.
def test_rule_4_special_loan_borrower(rules: RuleSet) -> None:
    decision = route(rules, ["housing"], special_loan_borrower=True)
    assert decision.programmes == (P.LIFE_INDEPENDENCE, P.WELFARE_FUND)
    assert decision.reasons[P.WELFARE_FUND] == ("special-loan borrower",)

    decision = route(rules, ["special_loan_repayment"], special_loan_borrower=True)
    assert decision.programmes == (P.WELFARE_FUND,)
    assert decision.reasons[P.WELFARE_FUND][:2] == (
        "concern special_loan_repayment",
        "special-loan borrower",
    )


# Rule 5: 3 or more distinct programmes, or hikikomori / family_8050, make a compound case.
@pytest.mark.parametrize(
    ("concerns", "flags", "compound", "compound_reason"),
    [
        (["income_shortfall", "isolation"], {}, False, None),
        (["income_shortfall", "isolation", "loan_request"], {}, True, "compound: 3 programmes"),
        (
            ["income_shortfall", "isolation"],
            {"special_loan_borrower": True},
            True,
            "compound: 3 programmes",
        ),
        (
            ["income_shortfall", "isolation", "debt_arrears", "housing"],
            {},
            False,
            None,
        ),
        (
            ["dementia_money"],
            {"age": 80, "disability_certificate": True},
            True,
            "compound: 3 programmes",
        ),
        (["hikikomori"], {}, True, "compound: concern hikikomori"),
        (["isolation", "family_8050"], {}, True, "compound: concern family_8050"),
    ],
)
def test_rule_5_compound(
    rules: RuleSet,
    concerns: list[str],
    flags: dict[str, Any],
    compound: bool,
    compound_reason: str | None,
) -> None:
    decision = route(rules, concerns, **flags)
    assert decision.compound is compound
    if compound:
        assert decision.coordinator is P.CSW_OUTREACH
        assert decision.lead is P.CSW_OUTREACH
        assert decision.programmes[0] is P.CSW_OUTREACH
        assert decision.roles[P.CSW_OUTREACH] is ReferralRole.COORDINATOR
        assert ReferralRole.LEAD not in decision.roles.values()
        assert compound_reason in decision.reasons[P.CSW_OUTREACH]
        assert "lead: coordinator of a compound case" in decision.reasons[P.CSW_OUTREACH]
    else:
        assert decision.coordinator is None
        assert P.CSW_OUTREACH not in decision.programmes
        assert decision.roles[decision.lead] is ReferralRole.LEAD


def test_rule_5_coordinator_added_when_not_reached_by_a_concern(rules: RuleSet) -> None:
    decision = route(
        rules, ["debt_arrears", "isolation", "loan_request"], most_pressing="isolation"
    )
    assert decision.programmes == (
        P.CSW_OUTREACH,
        P.LIFE_INDEPENDENCE,
        P.CSW_PARTICIPATION,
        P.WELFARE_FUND,
    )
    assert decision.reasons[P.CSW_OUTREACH] == (
        "compound: 3 programmes",
        "lead: coordinator of a compound case",
    )
    assert {p: r for p, r in decision.roles.items() if r is ReferralRole.MEMBER} == {
        P.LIFE_INDEPENDENCE: ReferralRole.MEMBER,
        P.CSW_PARTICIPATION: ReferralRole.MEMBER,
        P.WELFARE_FUND: ReferralRole.MEMBER,
    }


# Rule 6: the lead is the most pressing concern's programme, else the first concern's.
@pytest.mark.parametrize(
    ("concerns", "most_pressing", "flags", "lead", "lead_reason"),
    [
        (
            ["income_shortfall", "isolation"],
            "isolation",
            {},
            P.CSW_PARTICIPATION,
            "lead: most pressing concern isolation",
        ),
        (
            ["income_shortfall", "isolation"],
            None,
            {},
            P.LIFE_INDEPENDENCE,
            "lead: first concern reaching a programme, income_shortfall",
        ),
        (
            ["childcare", "isolation"],
            "childcare",
            {},
            P.CSW_PARTICIPATION,
            "lead: first concern reaching a programme, isolation",
        ),
        (
            ["childcare"],
            None,
            {"special_loan_borrower": True},
            P.WELFARE_FUND,
            "lead: first programme reached",
        ),
        ([], None, {}, P.LIFE_INDEPENDENCE, "lead: default lead"),
        (
            ["dementia_money", "elderly_care"],
            "elderly_care",
            {"age": 80},
            P.ELDERLY_SUPPORT,
            "lead: most pressing concern elderly_care",
        ),
    ],
)
def test_rule_6_lead(
    rules: RuleSet,
    concerns: list[str],
    most_pressing: str | None,
    flags: dict[str, Any],
    lead: Programme,
    lead_reason: str,
) -> None:
    decision = route(rules, concerns, most_pressing=most_pressing, **flags)
    assert not decision.compound
    assert decision.lead is lead
    assert decision.programmes[0] is lead
    assert decision.roles[lead] is ReferralRole.LEAD
    assert decision.reasons[lead][-1] == lead_reason


# Rule 7: sharing and its legal basis.
@pytest.mark.parametrize(
    ("basis", "shared", "awaiting"),
    [
        ("none", (P.LIFE_INDEPENDENCE,), (P.CSW_PARTICIPATION, P.WELFARE_FUND)),
        ("consent", (P.LIFE_INDEPENDENCE, P.CSW_PARTICIPATION, P.WELFARE_FUND), ()),
        ("support_meeting", (P.LIFE_INDEPENDENCE, P.CSW_PARTICIPATION, P.WELFARE_FUND), ()),
    ],
)
def test_rule_7_sharing(
    rules: RuleSet, basis: str, shared: tuple[Programme, ...], awaiting: tuple[Programme, ...]
) -> None:
    decision = route(rules, ["income_shortfall", "isolation", "loan_request"], sharing_basis=basis)
    # 3 programmes: compound; the coordinator leads and is the one always shared.
    assert decision.sharing_basis == SharingBasis(basis)
    assert decision.shared == ((P.CSW_OUTREACH, *shared) if basis != "none" else (P.CSW_OUTREACH,))
    expected_awaiting = (*shared, *awaiting) if basis == "none" else ()
    assert decision.awaiting_consent == expected_awaiting


def test_rule_7_no_consent_shares_only_the_lead(rules: RuleSet) -> None:
    decision = route(
        rules,
        ["isolation", "income_shortfall"],
        most_pressing="income_shortfall",
        sharing_basis="none",
    )
    assert decision.shared == (P.LIFE_INDEPENDENCE,)
    assert decision.awaiting_consent == (P.CSW_PARTICIPATION,)
    assert decision.initial_status(P.LIFE_INDEPENDENCE) is ReferralStatus.PENDING
    assert decision.initial_status(P.CSW_PARTICIPATION) is ReferralStatus.SUGGESTED
    with pytest.raises(KeyError):
        decision.initial_status(P.WELFARE_FUND)


def test_rule_7_support_meeting_shares_all(rules: RuleSet) -> None:
    decision = route(rules, ["isolation", "income_shortfall"], sharing_basis="support_meeting")
    assert decision.shared == decision.programmes == (P.CSW_PARTICIPATION, P.LIFE_INDEPENDENCE)
    assert decision.awaiting_consent == ()
    assert {decision.initial_status(p) for p in decision.programmes} == {ReferralStatus.PENDING}


# Rule 8: urgency.
@pytest.mark.parametrize(
    ("concerns", "flags", "urgent_reasons"),
    [
        (["dv_abuse"], {}, ("concern dv_abuse",)),
        (["food_insecurity"], {"no_food_today": True}, ("flag no_food_today",)),
        (["housing"], {"eviction_within_7_days": True}, ("flag eviction_within_7_days",)),
        (
            ["dv_abuse", "housing"],
            {"no_food_today": True, "eviction_within_7_days": True},
            ("concern dv_abuse", "flag no_food_today", "flag eviction_within_7_days"),
        ),
        (["housing", "food_insecurity"], {"lives_alone": True}, ()),
    ],
)
def test_rule_8_urgency(
    rules: RuleSet, concerns: list[str], flags: dict[str, bool], urgent_reasons: tuple[str, ...]
) -> None:
    decision = route(rules, concerns, **flags)
    assert decision.urgent is bool(urgent_reasons)
    assert decision.urgent_reasons == urgent_reasons


def test_rule_8_dv_abuse_is_urgent_and_referred_externally(rules: RuleSet) -> None:
    decision = route(rules, ["dv_abuse", "income_shortfall"], most_pressing="dv_abuse")
    assert decision.urgent
    assert decision.external_referrals[0].agency is A.DV_CENTRE
    assert decision.external_referrals[0].reasons == ("concern dv_abuse",)
    # dv_abuse reaches no council programme, so the lead comes from the next concern.
    assert decision.lead is P.LIFE_INDEPENDENCE
    assert decision.reasons[P.LIFE_INDEPENDENCE] == (
        "concern income_shortfall",
        "lead: first concern reaching a programme, income_shortfall",
    )


# Rule 9: economic concerns make the household eligible for a food parcel.
@pytest.mark.parametrize("concern", list(Concern))
def test_rule_9_food_parcel(rules: RuleSet, concern: Concern) -> None:
    decision = route(rules, ["isolation", concern])
    economic = {Concern.INCOME_SHORTFALL, Concern.DEBT_ARREARS, Concern.FOOD_INSECURITY}
    assert decision.food_parcel_eligible is (concern in economic)


def test_the_articles_example(rules: RuleSet) -> None:
    decision = raw(
        rules,
        ["income_shortfall", "isolation"],
        most_pressing="income_shortfall",
        age=78,
        lives_alone=True,
        sharing_basis="consent",
    )
    assert decision.to_dict() == {
        "rule_version": "2026.1",
        "programmes": ["life_independence", "csw_participation"],
        "lead": "life_independence",
        "coordinator": None,
        "compound": False,
        "urgent": False,
        "urgent_reasons": [],
        "food_parcel_eligible": True,
        "sharing_basis": "consent",
        "shared": ["life_independence", "csw_participation"],
        "awaiting_consent": [],
        "roles": {"life_independence": "lead", "csw_participation": "member"},
        "reasons": {
            "life_independence": [
                r("concern", concern="income_shortfall"),
                r("lead_most_pressing", concern="income_shortfall"),
            ],
            "csw_participation": [r("concern", concern="isolation")],
        },
        "external_referrals": [],
    }


def test_the_8050_household(rules: RuleSet) -> None:
    decision = raw(rules, ["family_8050", "hikikomori", "income_shortfall"], age=82)
    assert decision.to_dict() == {
        "rule_version": "2026.1",
        "programmes": ["csw_outreach", "life_independence"],
        "lead": "csw_outreach",
        "coordinator": "csw_outreach",
        "compound": True,
        "urgent": False,
        "urgent_reasons": [],
        "food_parcel_eligible": True,
        "sharing_basis": "none",
        "shared": ["csw_outreach"],
        "awaiting_consent": ["life_independence"],
        "roles": {"csw_outreach": "coordinator", "life_independence": "member"},
        "reasons": {
            "csw_outreach": [
                r("concern", concern="family_8050"),
                r("concern", concern="hikikomori"),
                r("compound_concerns", concerns=["family_8050", "hikikomori"]),
                r("lead_coordinator"),
            ],
            "life_independence": [r("concern", concern="income_shortfall")],
        },
        "external_referrals": [],
    }


def test_to_dict_is_json_serialisable(rules: RuleSet) -> None:
    decision = raw(
        rules, ["dv_abuse", "health", "dementia_money", "isolation"], age=70, no_food_today=True
    )
    data = decision.to_dict()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert data["external_referrals"] == [
        {"agency": "dv_centre", "reasons": [r("concern", concern="dv_abuse")]},
        {"agency": "health_centre", "reasons": [r("concern", concern="health")]},
    ]


def test_decide_is_pure(rules: RuleSet) -> None:
    facts = CaseFacts.from_raw(concerns=["hikikomori", "disability", "health"], age=66)
    assert decide(facts, rules) == decide(facts, rules)
