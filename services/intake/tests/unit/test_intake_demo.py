"""Demo data: who exists, and never in production."""

from __future__ import annotations

import pytest

from tsunagu.intake.demo import demo_staff, seed
from tsunagu.shared.contracts.codes import Programme, StaffRole
from tsunagu.shared.settings import Settings


def test_one_login_per_role_and_per_programme() -> None:
    people = {p.username: p for p in demo_staff()}
    assert StaffRole.ADMIN in people["admin"].roles
    assert people["uketsuke"].roles == (StaffRole.INTAKE,)
    assert people["food"].roles == (StaffRole.FOOD_DESK,)
    for programme in Programme:
        assert people[programme.value].programmes == (programme,)
        assert StaffRole.PROGRAMME in people[programme.value].roles
    assert StaffRole.COORDINATOR in people["csw_outreach"].roles


async def test_refuses_in_production() -> None:
    settings = Settings(service="intake", env="prod")
    with pytest.raises(RuntimeError, match="demo data"):
        await seed(settings)
