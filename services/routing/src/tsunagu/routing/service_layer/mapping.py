"""Translations between the contracts (events, the explain body) and the routing domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tsunagu.routing.domain import (
    CaseFacts,
    Decision,
    InvalidCaseFacts,
    RuleSet,
    UnknownConcernError,
    decide,
    staff_actions,
)
from tsunagu.shared.contracts import intake, routing
from tsunagu.shared.contracts.codes import Concern, SharingBasis
from tsunagu.shared.messaging import PermanentError


def unknown_concerns(codes: Any) -> list[str]:
    """The codes in ``codes`` that are not concern codes of the contract."""
    if not isinstance(codes, list | tuple):
        return []
    unknown = []
    for code in codes:
        try:
            Concern(code)
        except ValueError:
            unknown.append(str(code))
    return unknown


def check_event_concerns(data: Mapping[str, Any]) -> None:
    """Dead-letter an event whose facts name a concern code routing does not know.

    Checked before the event is validated, so the DLQ reason names the codes rather than
    listing every valid one.
    """
    facts = data.get("facts")
    if not isinstance(facts, Mapping):
        return
    codes = list(facts.get("concerns") or [])
    if facts.get("most_pressing") is not None:
        codes.append(facts["most_pressing"])
    unknown = unknown_concerns(codes)
    if unknown:
        raise PermanentError(str(UnknownConcernError(unknown)))


def _domain_facts(facts: intake.CaseFacts, basis: SharingBasis) -> CaseFacts:
    return CaseFacts(
        concerns=tuple(facts.concerns),
        most_pressing=facts.most_pressing,
        age=facts.age,
        lives_alone=facts.lives_alone,
        disability_certificate=facts.disability_certificate,
        special_loan_borrower=facts.special_loan_borrower,
        no_food_today=facts.urgent.no_food_today,
        eviction_within_7_days=facts.urgent.eviction_within_7_days,
        sharing_basis=basis,
    )


def decision_for(
    facts: intake.CaseFacts, basis: SharingBasis, rules: RuleSet
) -> tuple[CaseFacts, Decision]:
    """The one way routing decides: the contract's facts and sharing basis, by the rule set.

    A new case, a corrected case and the explain preview all go through here, so the preview
    shows exactly what the decision will be. Raises `InvalidCaseFacts` for facts the contract
    admits but the domain refuses (consumers dead-letter them, explain answers 422).
    """
    domain = _domain_facts(facts, basis)
    return domain, decide(domain, rules)


def decision_of_event(
    facts: intake.CaseFacts, basis: SharingBasis, rules: RuleSet
) -> tuple[CaseFacts, Decision]:
    """`decision_for` in a consumer: facts the domain refuses are poison (dead-lettered)."""
    try:
        return decision_for(facts, basis, rules)
    except InvalidCaseFacts as exc:
        raise PermanentError(str(exc)) from exc


def allowed_actions(status: str) -> list[str]:
    """What programme staff may do now to a referral in ``status`` (routing's lifecycle)."""
    return [a.value for a in staff_actions(status)]


def facts_record(facts: CaseFacts) -> dict[str, Any]:
    """What routing decided on, as stored with the decision (codes, flags and age only)."""
    return {
        "concerns": [c.value for c in facts.concerns],
        "most_pressing": None if facts.most_pressing is None else facts.most_pressing.value,
        "age": facts.age,
        "lives_alone": facts.lives_alone,
        "disability_certificate": facts.disability_certificate,
        "special_loan_borrower": facts.special_loan_borrower,
        "no_food_today": facts.no_food_today,
        "eviction_within_7_days": facts.eviction_within_7_days,
        "sharing_basis": facts.sharing_basis.value,
    }


def external_referrals(decision: Decision) -> list[routing.ExternalReferral]:
    return [
        routing.ExternalReferral(agency=e.agency.value, reasons=list(e.reasons))
        for e in decision.external_referrals
    ]


def decision_view(decision: Decision) -> dict[str, Any]:
    """The decision as the explain endpoint shows it (codes as strings)."""
    view = decision.to_dict()
    del view["external_referrals"]
    view["external"] = [e.model_dump(mode="json") for e in external_referrals(decision)]
    return view
