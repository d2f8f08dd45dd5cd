"""Acceptance deadlines of referrals (rule 8): 1 hour if urgent, else business days in Tokyo.

Definition (non-urgent): the deadline is the same local wall-clock time on the
`business_days`-th business day after the day the case was created, in the rule set's time
zone (Asia/Tokyo). A business day is Monday–Friday and not a Japanese public holiday (the
`holidays` calendar for JP, including substitute and "citizens'" holidays). A case created on
a non-business day is treated as created at `business_day_start` (09:00) on the next business
day, so a Saturday case is due at 09:00 on the second business day after that Monday.
The council's own year-end closure (29 Dec – 3 Jan) is deliberately not modelled: only
1 January is a holiday then.

Urgent: exactly `urgent_hours` after creation, whatever the day: urgent cases cannot wait
for Monday.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache

import holidays

from .ruleset import RuleSet


def deadline_for(created_at: datetime, urgent: bool, rules: RuleSet) -> datetime:
    """When a referral created at `created_at` must be accepted, in the rules' time zone."""
    _require_aware(created_at, "created_at")
    local = created_at.astimezone(rules.timezone)
    if urgent:
        return (created_at + timedelta(hours=rules.urgent_hours)).astimezone(rules.timezone)
    if not is_business_day(local.date()):
        start_day = next_business_day(local.date())
        local = datetime.combine(start_day, rules.business_day_start, tzinfo=rules.timezone)
    day = local.date()
    for _ in range(rules.business_days):
        day = next_business_day(day)
    return datetime.combine(day, local.timetz())


def deadline_after_correction(
    current: datetime | None, now: datetime, urgent: bool, rules: RuleSet
) -> datetime | None:
    """A pending referral's deadline once a correction has routed its case again.

    A case corrected to urgent must be taken up within the urgent hours from now (when the
    team learns of it), or by the deadline it already had if that is sooner. A correction that
    makes a case no longer urgent gives no more time: the deadline stays.
    """
    if current is None or not urgent:
        return current
    return min(current, deadline_for(now, True, rules))


def is_overdue(deadline: datetime, now: datetime) -> bool:
    """True once `now` is strictly past `deadline` (accepting at the deadline is in time)."""
    _require_aware(deadline, "deadline")
    _require_aware(now, "now")
    return now > deadline


def is_business_day(day: date) -> bool:
    """Monday–Friday and not a Japanese public holiday."""
    return day.weekday() < 5 and day not in _japan_holidays()


def next_business_day(day: date) -> date:
    """The first business day strictly after `day`."""
    day += timedelta(days=1)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def load_calendar(today: date) -> None:
    """Build the holiday calendar for this year and the next now (at start-up), so that the
    first case does not wait ~1 s for it."""
    is_business_day(today)
    is_business_day(date(today.year + 1, 1, 1))


@cache
def _japan_holidays() -> holidays.HolidayBase:
    # One calendar for the process; it fills in years lazily as dates are looked up.
    return holidays.country_holidays("JP")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
