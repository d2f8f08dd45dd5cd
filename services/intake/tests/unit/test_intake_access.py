"""The role matrix: who may view, respond, administer, take in, and which fields they see."""

from __future__ import annotations

import pytest

from tsunagu.intake.domain.access import (
    CASE_FIELDS,
    FOOD_DESK_FIELDS,
    Principal,
    can_admin,
    can_change_consent,
    can_respond_to_referral,
    can_take_in,
    can_view_case,
    visible_case_fields,
)
from tsunagu.shared.contracts.codes import Programme, ReferralStatus, StaffRole

LIFE = Programme.LIFE_INDEPENDENCE
CSW = Programme.CSW_PARTICIPATION
FUND = Programme.WELFARE_FUND


def staff(*roles: StaffRole, programmes: tuple[Programme, ...] = ()) -> Principal:
    return Principal("staff", frozenset(roles), frozenset(programmes))


INTAKE = staff(StaffRole.INTAKE)
COORDINATOR = staff(StaffRole.COORDINATOR, programmes=(Programme.CSW_OUTREACH,))
ADMIN = staff(StaffRole.ADMIN)
AUDITOR = staff(StaffRole.AUDITOR)
FOOD_DESK = staff(StaffRole.FOOD_DESK)
LIFE_MEMBER = staff(StaffRole.PROGRAMME, programmes=(LIFE,))
FUND_MEMBER = staff(StaffRole.PROGRAMME, programmes=(FUND,))
TWO_PROGRAMMES = staff(StaffRole.PROGRAMME, programmes=(FUND, CSW))
NOBODY = staff()

# The article's case: life_independence leads, csw_participation awaits consent.
REFERRALS = {LIFE: ReferralStatus.PENDING, CSW: ReferralStatus.SUGGESTED}


@pytest.mark.parametrize(
    ("principal", "referrals", "allowed"),
    [
        (INTAKE, REFERRALS, True),
        (COORDINATOR, REFERRALS, True),
        (ADMIN, REFERRALS, True),
        (AUDITOR, REFERRALS, True),
        (INTAKE, {}, True),
        (LIFE_MEMBER, REFERRALS, True),
        (FUND_MEMBER, REFERRALS, False),  # not referred
        (TWO_PROGRAMMES, REFERRALS, False),  # csw only suggested: not shared yet
        (TWO_PROGRAMMES, {CSW: ReferralStatus.ACCEPTED}, True),
        (LIFE_MEMBER, {LIFE: ReferralStatus.SUGGESTED}, False),
        (LIFE_MEMBER, {LIFE: ReferralStatus.IN_PROGRESS}, True),
        (LIFE_MEMBER, {LIFE: ReferralStatus.CLOSED}, True),
        (LIFE_MEMBER, {LIFE: ReferralStatus.ESCALATED}, True),
        (LIFE_MEMBER, {}, False),
        # Consent withdrawn: routing withdrew the referral; the member loses the case at once.
        (LIFE_MEMBER, {LIFE: ReferralStatus.WITHDRAWN}, False),
        (TWO_PROGRAMMES, {CSW: ReferralStatus.WITHDRAWN, FUND: ReferralStatus.PENDING}, True),
        (INTAKE, {LIFE: ReferralStatus.WITHDRAWN}, True),
        (FOOD_DESK, REFERRALS, False),
        (staff(StaffRole.FOOD_DESK, programmes=(LIFE,)), REFERRALS, False),  # no programme role
        (staff(StaffRole.FOOD_DESK, StaffRole.INTAKE), REFERRALS, True),
        (NOBODY, REFERRALS, False),
    ],
)
def test_can_view_case(
    principal: Principal, referrals: dict[Programme, ReferralStatus], allowed: bool
) -> None:
    assert can_view_case(principal, referrals) is allowed


@pytest.mark.parametrize(
    ("principal", "programme", "allowed"),
    [
        (LIFE_MEMBER, LIFE, True),
        (LIFE_MEMBER, CSW, False),
        (TWO_PROGRAMMES, CSW, True),
        (TWO_PROGRAMMES, FUND, True),
        (TWO_PROGRAMMES, LIFE, False),
        (INTAKE, LIFE, False),
        (ADMIN, LIFE, False),
        (AUDITOR, LIFE, False),
        (FOOD_DESK, LIFE, False),
        (COORDINATOR, Programme.CSW_OUTREACH, False),  # needs the programme role too
        (
            staff(StaffRole.COORDINATOR, StaffRole.PROGRAMME, programmes=(Programme.CSW_OUTREACH,)),
            Programme.CSW_OUTREACH,
            True,
        ),
        (NOBODY, LIFE, False),
    ],
)
def test_can_respond_to_referral(principal: Principal, programme: Programme, allowed: bool) -> None:
    assert can_respond_to_referral(principal, programme) is allowed


@pytest.mark.parametrize(
    ("principal", "admin", "take_in"),
    [
        (INTAKE, False, True),
        (COORDINATOR, False, False),
        (ADMIN, True, False),
        (AUDITOR, False, False),
        (FOOD_DESK, False, False),
        (LIFE_MEMBER, False, False),
        (staff(StaffRole.ADMIN, StaffRole.INTAKE), True, True),
        (NOBODY, False, False),
    ],
)
def test_can_admin_and_take_in(principal: Principal, admin: bool, take_in: bool) -> None:
    assert can_admin(principal) is admin
    assert can_take_in(principal) is take_in


@pytest.mark.parametrize(
    ("principal", "fields"),
    [
        (INTAKE, CASE_FIELDS),
        (COORDINATOR, CASE_FIELDS),
        (ADMIN, CASE_FIELDS),
        (AUDITOR, CASE_FIELDS),
        (LIFE_MEMBER, CASE_FIELDS),
        (FOOD_DESK, {"case_number", "name_kana", "food_parcel_eligible"}),
        (staff(StaffRole.FOOD_DESK, StaffRole.INTAKE), CASE_FIELDS),
        (NOBODY, set()),
    ],
)
def test_visible_case_fields(principal: Principal, fields: frozenset[str]) -> None:
    assert visible_case_fields(principal) == set(fields)


def test_food_desk_sees_no_personal_details() -> None:
    assert FOOD_DESK_FIELDS <= CASE_FIELDS
    personal = {"name", "birth_date", "phone", "email", "address", "concerns", "notes"}
    assert not visible_case_fields(FOOD_DESK) & personal


def test_visible_fields_are_a_fresh_set() -> None:
    fields = visible_case_fields(FOOD_DESK)
    fields.add("phone")
    assert "phone" not in visible_case_fields(FOOD_DESK)


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        (INTAKE, True),
        (COORDINATOR, True),
        (LIFE_MEMBER, False),  # holds the case, but may not widen who else receives it
        (FUND_MEMBER, False),  # not shared with them
        (ADMIN, False),  # sees, but does not act on cases
        (AUDITOR, False),
        (FOOD_DESK, False),
    ],
)
def test_only_intake_and_coordinators_change_consent(principal: Principal, allowed: bool) -> None:
    assert can_change_consent(principal, {LIFE: ReferralStatus.PENDING}) is allowed
