"""Translations between the contracts (events, the explain body) and the routing domain."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from tsunagu.routing.domain import CaseFacts, Decision, InvalidCaseFacts, UnknownConcernError
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


def domain_facts(facts: intake.CaseFacts, basis: SharingBasis) -> CaseFacts:
    """The contract's nested facts and consent basis as the domain's flat facts."""
    try:
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
    except InvalidCaseFacts as exc:
        raise PermanentError(str(exc)) from exc


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
        routing.ExternalReferral(agency=e.agency.value, reason="; ".join(e.reasons))
        for e in decision.external_referrals
    ]


def decision_view(decision: Decision) -> dict[str, Any]:
    """The decision as the explain endpoint shows it (codes as strings)."""
    view = decision.to_dict()
    del view["external_referrals"]
    view["external"] = [e.model_dump() for e in external_referrals(decision)]
    return view


def age_on(birth_date: date, today: date) -> int:
    """Completed years on ``today`` (a 29 February birthday counts from 1 March)."""
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )
