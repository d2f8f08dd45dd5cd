"""Acceptance deadlines: 1 hour if urgent, else 2 business days in Tokyo (holidays excluded)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tsunagu.routing.domain import (
    RuleSet,
    deadline_after_correction,
    deadline_for,
    is_business_day,
    is_overdue,
    load_rules,
    next_business_day,
)

TOKYO = ZoneInfo("Asia/Tokyo")


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


@pytest.mark.parametrize(
    ("created", "due"),
    [
        # Ordinary week: Monday → Wednesday, same time.
        (jst(2026, 7, 13, 10, 0), jst(2026, 7, 15, 10, 0)),
        # Friday before Marine Day (Mon 20 July 2026): Tue 21 and Wed 22 count.
        (jst(2026, 7, 17, 15, 30), jst(2026, 7, 22, 15, 30)),
        # Sunday before Marine Day: the clock starts Tue 21 at 09:00.
        (jst(2026, 7, 19, 20, 0), jst(2026, 7, 23, 9, 0)),
        # Marine Day itself is not a business day.
        (jst(2026, 7, 20, 11, 0), jst(2026, 7, 23, 9, 0)),
        # Golden Week 2026: Showa Day Wed 29 April.
        (jst(2026, 4, 28, 14, 0), jst(2026, 5, 1, 14, 0)),
        # Thu 30 April: Fri 1 May, then 2–6 May are weekend and holidays (6 May substitute).
        (jst(2026, 4, 30, 10, 0), jst(2026, 5, 7, 10, 0)),
        # Created in the middle of Golden Week: clock starts Thu 7 May 09:00.
        (jst(2026, 5, 2, 16, 45), jst(2026, 5, 11, 9, 0)),
        (jst(2026, 5, 6, 8, 0), jst(2026, 5, 11, 9, 0)),
        # Silver Week 2026: Mon 21 – Wed 23 September (22nd is a citizens' holiday).
        (jst(2026, 9, 18, 17, 0), jst(2026, 9, 25, 17, 0)),
        (jst(2026, 9, 22, 12, 0), jst(2026, 9, 28, 9, 0)),
        # Year end: 31 December is a business day (no year-end closure modelled); 1 January is not.
        (jst(2025, 12, 30, 16, 0), jst(2026, 1, 2, 16, 0)),
        (jst(2026, 12, 30, 9, 30), jst(2027, 1, 4, 9, 30)),
        (jst(2027, 1, 1, 10, 0), jst(2027, 1, 6, 9, 0)),
        # Late on a business day keeps its time: Friday night → Tuesday night.
        (jst(2026, 6, 5, 23, 0), jst(2026, 6, 9, 23, 0)),
    ],
)
def test_business_day_deadlines(rules: RuleSet, created: datetime, due: datetime) -> None:
    deadline = deadline_for(created, urgent=False, rules=rules)
    assert deadline == due
    assert deadline.tzinfo == TOKYO


def test_created_in_utc_is_counted_in_tokyo(rules: RuleSet) -> None:
    # 23:30 UTC on Thursday is 08:30 on Friday 17 July in Tokyo, before Marine Day.
    created = datetime(2026, 7, 16, 23, 30, tzinfo=UTC)
    assert deadline_for(created, urgent=False, rules=rules) == jst(2026, 7, 22, 8, 30)


@pytest.mark.parametrize(
    "created",
    [jst(2026, 7, 13, 10, 0), jst(2026, 5, 3, 23, 30), jst(2026, 12, 31, 23, 59)],
)
def test_urgent_deadline_is_one_hour_whatever_the_day(rules: RuleSet, created: datetime) -> None:
    deadline = deadline_for(created, urgent=True, rules=rules)
    assert deadline == created + timedelta(hours=1)
    assert deadline.tzinfo == TOKYO


def test_deadline_parameters_come_from_the_rule_set(default_rules_data: dict[str, Any]) -> None:
    data = default_rules_data
    data["version"] = "2026.2"
    data["deadlines"].update({"urgent_hours": 2, "business_days": 3, "business_day_start": "08:30"})
    rules = load_rules(yaml.safe_dump(data))
    assert deadline_for(jst(2026, 7, 13, 10), urgent=True, rules=rules) == jst(2026, 7, 13, 12)
    assert deadline_for(jst(2026, 7, 13, 10), urgent=False, rules=rules) == jst(2026, 7, 16, 10)
    assert deadline_for(jst(2026, 7, 18, 10), urgent=False, rules=rules) == jst(2026, 7, 24, 8, 30)


def test_naive_datetimes_are_rejected(rules: RuleSet) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline_for(datetime(2026, 7, 13, 10), urgent=False, rules=rules)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_overdue(jst(2026, 7, 13), datetime(2026, 7, 14))


@pytest.mark.parametrize(
    ("now", "overdue"),
    [
        (jst(2026, 7, 15, 9, 59), False),
        (jst(2026, 7, 15, 10, 0), False),
        (jst(2026, 7, 15, 10, 0) + timedelta(microseconds=1), True),
        (datetime(2026, 7, 15, 1, 0, 1, tzinfo=UTC), True),
    ],
)
def test_is_overdue(now: datetime, overdue: bool) -> None:
    assert is_overdue(jst(2026, 7, 15, 10, 0), now) is overdue


@pytest.mark.parametrize(
    ("day", "business"),
    [
        (date(2026, 7, 17), True),
        (date(2026, 7, 18), False),
        (date(2026, 7, 20), False),
        (date(2026, 5, 6), False),
        (date(2026, 9, 22), False),
        (date(2026, 12, 31), True),
        (date(2027, 1, 1), False),
    ],
)
def test_is_business_day(day: date, business: bool) -> None:
    assert is_business_day(day) is business


def test_next_business_day_skips_golden_week() -> None:
    assert next_business_day(date(2026, 5, 1)) == date(2026, 5, 7)


def test_the_calendar_is_loaded_for_this_year_and_the_next_at_start_up() -> None:
    from tsunagu.routing.domain.deadlines import _japan_holidays, load_calendar

    assert 2041 not in _japan_holidays().years
    load_calendar(date(2040, 11, 29))
    assert {2040, 2041} <= _japan_holidays().years


def test_a_correction_to_urgent_shortens_a_deadline_and_never_lengthens_one() -> None:
    rules = load_rules()
    shared = jst(2026, 7, 13, 10, 0)
    ordinary = deadline_for(shared, False, rules)  # Wednesday 10:00
    corrected = jst(2026, 7, 13, 10, 30)
    urgent = deadline_after_correction(ordinary, corrected, True, rules)
    assert urgent == corrected + timedelta(hours=rules.urgent_hours)
    # Already sooner than the urgent hours from now: kept.
    soon = corrected + timedelta(minutes=5)
    assert deadline_after_correction(soon, corrected, True, rules) == soon
    # No longer urgent: no more time than it had.
    assert deadline_after_correction(urgent, corrected, False, rules) == urgent
    # A referral not yet shared has no deadline to change.
    assert deadline_after_correction(None, corrected, True, rules) is None
