"""Who may see and do what with a case: role checks over a signed-in staff member.

A programme member sees only cases shared with one of their programmes; the food desk sees
only what a handout needs (domain.md, "People and roles"). A person may hold several roles;
each check asks whether any of them allows the action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tsunagu.shared.contracts import codes
from tsunagu.shared.contracts.codes import Programme, ReferralStatus, StaffRole

__all__ = [
    "CASE_FIELDS",
    "FOOD_DESK_FIELDS",
    "NOT_HOLDING",
    "Principal",
    "can_admin",
    "can_audit",
    "can_change_consent",
    "can_read_reports",
    "can_respond_to_referral",
    "can_take_in",
    "can_view_case",
    "sees_every_case",
    "visible_case_fields",
]

#: Every field of a case as the intake UI and API show it.
CASE_FIELDS: frozenset[str] = frozenset(
    {
        "case_number",
        "event_id",
        "household_id",
        "name",
        "name_kana",
        "birth_date",
        "age",
        "sex",
        "phone",
        "email",
        "address",
        "language",
        "lives_alone",
        "disability_certificate",
        "special_loan_borrower",
        "household",
        "proxy",
        "concerns",
        "most_pressing",
        "urgent",
        "consent",
        "notes",
        "referrals",
        "food_parcel_eligible",
    }
)

#: What the food desk needs to hand out a parcel, and nothing more.
FOOD_DESK_FIELDS: frozenset[str] = frozenset({"case_number", "name_kana", "food_parcel_eligible"})

# Roles that see every case in full: they take residents in, coordinate, administer or audit.
_SEE_ALL_CASES = frozenset(
    {StaffRole.ADMIN, StaffRole.INTAKE, StaffRole.COORDINATOR, StaffRole.AUDITOR}
)


#: Referral statuses in which the programme does not hold the case (``suggested``,
#: ``withdrawn``; the shared contract's set). Routing owns these statuses; intake reads them
#: from routing's events. Every read path (case page, lists, inbox, streams, earlier visits)
#: asks this one rule.
NOT_HOLDING = codes.NOT_HOLDING


def sees_every_case(principal: Principal) -> bool:
    """Intake, coordinators, admins and auditors see every case; programme members only theirs."""
    return bool(principal.roles & _SEE_ALL_CASES)


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in staff member: their roles and, for programme members, their programmes."""

    username: str
    roles: frozenset[StaffRole]
    programmes: frozenset[Programme] = field(default_factory=frozenset)


#: Referral statuses under which the programme does not hold the case.
_NOT_SHARED = frozenset({ReferralStatus.SUGGESTED, ReferralStatus.WITHDRAWN})


def can_view_case(
    principal: Principal, referred_programmes: Mapping[Programme, ReferralStatus]
) -> bool:
    """May ``principal`` open the full case, given its referrals and their status?

    A ``suggested`` referral awaits a sharing basis (domain rule 7): that programme has not
    received the case, so its members may not see it yet. A ``withdrawn`` referral is no longer
    asked of the programme (the case was corrected, or consent was withdrawn): its members no
    longer see the case.
    """
    if principal.roles & _SEE_ALL_CASES:
        return True
    if StaffRole.PROGRAMME not in principal.roles:
        return False
    shared_with = {
        programme for programme, status in referred_programmes.items() if status not in NOT_HOLDING
    }
    return bool(principal.programmes & shared_with)


def can_respond_to_referral(principal: Principal, programme: Programme) -> bool:
    """May ``principal`` accept, decline or close a referral to ``programme``?

    Only that programme's members decide for it; admins manage the system, not the casework.
    """
    return StaffRole.PROGRAMME in principal.roles and programme in principal.programmes


def can_admin(principal: Principal) -> bool:
    """May ``principal`` manage staff accounts, events and venues?"""
    return StaffRole.ADMIN in principal.roles


def can_read_reports(principal: Principal) -> bool:
    """May ``principal`` read the anonymous reports (counts only, no case)?"""
    return bool(principal.roles & {StaffRole.ADMIN, StaffRole.MANAGER})


def can_change_consent(
    principal: Principal, referred_programmes: Mapping[Programme, ReferralStatus]
) -> bool:
    """May ``principal`` record that a resident gave or withdrew consent, or change the basis?

    Intake staff and coordinators only: the basis decides which programmes receive the case,
    so a programme member must not be able to widen it. Admins and auditors do not act on
    cases.
    """
    if not can_view_case(principal, referred_programmes):
        return False
    return bool(principal.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR})


def can_audit(principal: Principal) -> bool:
    """May ``principal`` search the audit log? Auditors only: it names who saw which case."""
    return StaffRole.AUDITOR in principal.roles


def can_take_in(principal: Principal) -> bool:
    """May ``principal`` register a resident and open a case at an event?"""
    return StaffRole.INTAKE in principal.roles


def visible_case_fields(principal: Principal) -> set[str]:
    """The case fields ``principal`` may see once allowed to open a case (or the food list)."""
    fields: set[str] = set()
    if principal.roles & (_SEE_ALL_CASES | {StaffRole.PROGRAMME}):
        fields |= CASE_FIELDS
    if StaffRole.FOOD_DESK in principal.roles:
        fields |= FOOD_DESK_FIELDS
    return fields
