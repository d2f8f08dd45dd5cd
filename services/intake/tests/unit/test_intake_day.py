"""Which events take residents in: the event's own day, or any day with an admin's reason."""

from datetime import date, timedelta

from tsunagu.intake.domain.intake_day import not_today_message, takes_residents_in

DAY = date(2026, 12, 6)


def test_only_on_the_events_own_day():
    assert takes_residents_in(DAY, DAY, None)
    assert not takes_residents_in(DAY + timedelta(days=7), DAY, None)  # next week's event
    assert not takes_residents_in(DAY - timedelta(days=1), DAY, None)


def test_an_admins_reason_opens_other_days():
    assert takes_residents_in(DAY - timedelta(days=1), DAY, "紙の受付票を入力")
    assert not takes_residents_in(DAY - timedelta(days=1), DAY, "")


def test_the_refusal_names_the_events_date():
    assert not_today_message(date(2026, 12, 13)).startswith("12月13日の相談会は本日ではない")
