"""A programme's topic names the concerns that programme needs: all of them for the lead or
coordinator, only its own for a member (domain.need_to_know)."""

from tsunagu.routing.domain import decide, load_rules
from tsunagu.routing.domain.facts import CaseFacts
from tsunagu.routing.domain.need_to_know import concerns_named, programme_concerns
from tsunagu.shared.contracts.codes import Concern, Programme

CONCERNS = ["income_shortfall", "dv_abuse", "elderly_care", "disability"]


def test_members_get_only_the_concerns_their_reasons_name() -> None:
    reasons = [{"code": "concern", "params": {"concern": "disability"}}]
    assert programme_concerns("member", reasons, CONCERNS) == (["disability"], "programme")
    age = [{"code": "age_and_concern", "params": {"age": 78, "threshold": 65,
                                                  "concern": "elderly_care"}}]  # fmt: skip
    assert programme_concerns("member", age, CONCERNS) == (["elderly_care"], "programme")


def test_a_member_reached_by_a_flag_or_a_request_gets_no_concern() -> None:
    flag = [{"code": "flag", "params": {"flag": "disability_certificate"}}]
    assert programme_concerns("member", flag, CONCERNS) == ([], "programme")
    assert programme_concerns("member", ["a version 1 sentence"], CONCERNS) == ([], "programme")


def test_the_lead_and_the_coordinator_get_every_concern_in_order() -> None:
    for role in ("lead", "coordinator"):
        assert programme_concerns(role, [], CONCERNS) == (CONCERNS, "case")


def test_each_member_of_a_real_decision_gets_a_subset_that_reached_it() -> None:
    facts = CaseFacts(concerns=tuple(Concern(c) for c in CONCERNS), most_pressing=None, age=70)
    decision = decide(facts, load_rules())
    for programme in decision.programmes:
        reasons = [r.model_dump(mode="json") for r in decision.reasons[programme]]
        shown = concerns_named(reasons) & set(CONCERNS)
        if programme is Programme.DISABILITY_SUPPORT:
            assert shown == {"disability"}
        assert "dv_abuse" not in shown  # reaches no programme: an external agency's
