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
    assert people["food"].roles == (StaffRole.FOOD_DESK, StaffRole.FOOD_DESK_LEAD)
    assert people["haifu"].roles == (StaffRole.FOOD_DESK,)  # hands out, does not run stock
    for programme in Programme:
        assert people[programme.value].programmes == (programme,)
        assert StaffRole.PROGRAMME in people[programme.value].roles
    assert StaffRole.COORDINATOR in people["csw_outreach"].roles


async def test_refuses_in_production() -> None:
    settings = Settings(service="intake", env="prod")
    with pytest.raises(RuntimeError, match="demo data"):
        await seed(settings)


def test_todays_events_are_the_seeded_events_of_today_with_their_venues() -> None:
    from datetime import date

    from tsunagu.intake.demo import VENUES, event_dates, todays_events
    from tsunagu.intake.service_layer.staff import event_id_for

    today = date(2026, 12, 6)
    assert today in event_dates(today)
    assert todays_events(today) == [
        f"{event_id_for(today, v.venue_id)}={v.venue_id}={v.name}" for v in VENUES
    ]
    assert todays_events(today)[0] == "20261206-aeon-mall=aeon-mall=イオンモール"


def test_every_demo_venue_has_its_names_reading_as_an_admin_would_store_it() -> None:
    from tsunagu.intake.demo import VENUES
    from tsunagu.intake.domain.normalize import venue_kana

    for venue in VENUES:
        assert venue.name_kana and venue_kana(venue.name_kana) == venue.name_kana, venue
