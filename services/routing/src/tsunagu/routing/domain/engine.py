"""The routing decision: which programmes a case goes to, who leads, what is shared now.

`decide` is a pure function of the case facts and one rule set version (docs/domain.md,
rules 1–9). Every programme in a decision carries the reasons it was chosen, as data: a code
and its parameters (``tsunagu.shared.contracts.reasons``), rendered in words where they are shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tsunagu.shared.contracts.codes import (
    Concern,
    ExternalAgency,
    Programme,
    ReferralRole,
    ReferralStatus,
    SharingBasis,
)
from tsunagu.shared.contracts.reasons import Reason, ReasonCode

from .facts import CaseFacts
from .ruleset import RuleSet

_R = ReasonCode


def why(code: ReasonCode, **params: str | int | list[str]) -> Reason:
    """One reason: its code and parameters (codes and numbers, no personal data)."""
    return Reason(code=code, params=params)


@dataclass(frozen=True)
class ExternalReferral:
    """A need sent outside the council; recorded so that it is never silent."""

    agency: ExternalAgency
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Decision:
    """The outcome of routing one case.

    - `programmes`: every programme the case goes to, lead first, then in the order the rules
      reached them; no duplicates.
    - `lead`: who leads. In a compound case that is the coordinator (rule 5 "who leads"): its
      role is `coordinator` and `lead` names it; no programme then has the role `lead`.
    - `shared` / `awaiting_consent`: together exactly `programmes`. With sharing basis `none`
      only the lead receives the case now; the others are suggested, awaiting consent (rule 7).
    - `reasons`: programme → why it was chosen (and, for the lead, why it leads).
    """

    rule_version: str
    programmes: tuple[Programme, ...]
    lead: Programme
    coordinator: Programme | None
    compound: bool
    urgent: bool
    urgent_reasons: tuple[Reason, ...]
    food_parcel_eligible: bool
    sharing_basis: SharingBasis
    shared: tuple[Programme, ...]
    awaiting_consent: tuple[Programme, ...]
    roles: Mapping[Programme, ReferralRole]
    reasons: Mapping[Programme, tuple[Reason, ...]]
    external_referrals: tuple[ExternalReferral, ...]

    def initial_status(self, programme: Programme) -> ReferralStatus:
        """The status a new referral to `programme` starts in: `pending` if the programme
        receives the case now, `suggested` if it awaits a sharing basis."""
        if programme in self.shared:
            return ReferralStatus.PENDING
        if programme in self.awaiting_consent:
            return ReferralStatus.SUGGESTED
        raise KeyError(f"{programme} is not part of this decision")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view (codes as plain strings, tuples as lists)."""
        return {
            "rule_version": self.rule_version,
            "programmes": [p.value for p in self.programmes],
            "lead": self.lead.value,
            "coordinator": None if self.coordinator is None else self.coordinator.value,
            "compound": self.compound,
            "urgent": self.urgent,
            "urgent_reasons": [r.model_dump(mode="json") for r in self.urgent_reasons],
            "food_parcel_eligible": self.food_parcel_eligible,
            "sharing_basis": self.sharing_basis.value,
            "shared": [p.value for p in self.shared],
            "awaiting_consent": [p.value for p in self.awaiting_consent],
            "roles": {p.value: role.value for p, role in self.roles.items()},
            "reasons": {
                p.value: [r.model_dump(mode="json") for r in why] for p, why in self.reasons.items()
            },
            "external_referrals": [
                {
                    "agency": e.agency.value,
                    "reasons": [r.model_dump(mode="json") for r in e.reasons],
                }
                for e in self.external_referrals
            ],
        }


def decide(facts: CaseFacts, rules: RuleSet) -> Decision:
    """Route a case by the rule set (pure: same facts and rules, same decision).

    Rules 1–4 collect programmes, in the order reached. Rule 5: if they number at least
    `compound.min_programmes` (whatever rule brought them in), or a compound concern is
    present, the coordinator joins and leads. Rule 6 otherwise: the lead is the first
    programme of the most pressing concern; if there is none, or that concern reaches no
    council programme, the first concern that does; else the first programme reached by a flag;
    else `default_lead`, so that a case with only external needs is still followed up.
    """
    reasons: dict[Programme, list[Reason]] = {}
    external: dict[ExternalAgency, list[Reason]] = {}
    # The programmes each concern reaches, for rule 6.
    by_concern: dict[Concern, list[Programme]] = {}

    def add(programme: Programme, reason: Reason) -> None:
        reasons.setdefault(programme, []).append(reason)

    for concern in facts.concerns:
        reached = by_concern.setdefault(concern, [])
        for programme in rules.concern_programmes[concern]:  # rule 1
            add(programme, why(_R.CONCERN, concern=concern.value))
            reached.append(programme)
        if (
            facts.age is not None
            and facts.age >= rules.age_threshold
            and concern in rules.age_concerns
        ):  # rule 2
            add(
                rules.age_programme,
                why(
                    _R.AGE_AND_CONCERN,
                    age=facts.age,
                    threshold=rules.age_threshold,
                    concern=concern.value,
                ),
            )
            if rules.age_programme not in reached:
                reached.append(rules.age_programme)
        for agency in rules.concern_external[concern]:
            external.setdefault(agency, []).append(why(_R.CONCERN, concern=concern.value))

    if facts.disability_certificate:  # rule 3
        add(rules.disability_certificate_programme, why(_R.DISABILITY_CERTIFICATE))
    if facts.special_loan_borrower:  # rule 4
        add(rules.special_loan_programme, why(_R.SPECIAL_LOAN_BORROWER))

    # Rule 5: compound case.
    count = len(reasons)
    triggers = [c for c in facts.concerns if c in rules.compound_concerns]
    compound = count >= rules.compound_min_programmes or bool(triggers)
    if compound:
        if count >= rules.compound_min_programmes:
            add(rules.coordinator, why(_R.COMPOUND_PROGRAMMES, count=count))
        if triggers:
            add(rules.coordinator, why(_R.COMPOUND_CONCERNS, concerns=[c.value for c in triggers]))
        lead = rules.coordinator
        add(lead, why(_R.LEAD_COORDINATOR))
    else:
        lead, leads_because = _lead_of_simple_case(facts, rules, by_concern, list(reasons))
        if lead not in reasons:
            add(lead, why(_R.NO_PROGRAMME_REACHED))
        add(lead, leads_because)

    programmes = (lead, *(p for p in reasons if p != lead))
    roles = {p: ReferralRole.MEMBER for p in programmes}
    roles[lead] = ReferralRole.COORDINATOR if compound else ReferralRole.LEAD

    # Rule 7: without a sharing basis only the lead receives the case now.
    if facts.sharing_basis is SharingBasis.NONE:
        shared, awaiting = programmes[:1], programmes[1:]
    else:
        shared, awaiting = programmes, ()

    urgent_reasons = tuple(
        [why(_R.CONCERN, concern=c.value) for c in facts.concerns if c in rules.urgent_concerns]
        + [why(_R.FLAG, flag=flag) for flag in rules.urgent_flags if facts.flag(flag)]
    )  # rule 8

    return Decision(
        rule_version=rules.version,
        programmes=programmes,
        lead=lead,
        coordinator=rules.coordinator if compound else None,
        compound=compound,
        urgent=bool(urgent_reasons),
        urgent_reasons=urgent_reasons,
        food_parcel_eligible=any(c in rules.food_parcel_concerns for c in facts.concerns),
        sharing_basis=facts.sharing_basis,
        shared=shared,
        awaiting_consent=awaiting,
        roles=roles,
        reasons={p: tuple(reasons[p]) for p in programmes},
        external_referrals=tuple(
            ExternalReferral(agency, tuple(because)) for agency, because in external.items()
        ),
    )


def _lead_of_simple_case(
    facts: CaseFacts,
    rules: RuleSet,
    by_concern: Mapping[Concern, list[Programme]],
    reached: list[Programme],
) -> tuple[Programme, Reason]:
    """Rule 6: the lead of a case that is not compound, and why."""
    pressing = facts.most_pressing
    if pressing is not None and by_concern[pressing]:
        return by_concern[pressing][0], why(_R.LEAD_MOST_PRESSING, concern=pressing.value)
    for concern in facts.concerns:
        if by_concern[concern]:
            return by_concern[concern][0], why(_R.LEAD_FIRST_CONCERN, concern=concern.value)
    if reached:
        return reached[0], why(_R.LEAD_FIRST_PROGRAMME)
    return rules.default_lead, why(_R.LEAD_DEFAULT)
