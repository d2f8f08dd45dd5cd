"""Quiet hours: residents hear nothing between 21:00 and 08:00 Tokyo, and get their preferred slot."""

from datetime import UTC, date, datetime, timedelta

import pytest

from tsunagu.notify.domain.quiet_hours import TOKYO, is_night, send_time
from tsunagu.shared.contracts.codes import ContactTime


def tokyo(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TOKYO)


def test_late_evening_waits_for_eight_next_morning() -> None:
    assert send_time(tokyo(2025, 6, 2, 23), ContactTime.ANY) == tokyo(2025, 6, 3, 8)


def test_one_minute_before_eight_waits_for_eight() -> None:
    assert send_time(tokyo(2025, 6, 2, 7, 59), ContactTime.ANY) == tokyo(2025, 6, 2, 8)


def test_inside_the_day_sends_now() -> None:
    now = tokyo(2025, 6, 2, 20, 59)
    assert send_time(now, ContactTime.ANY) is now


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (tokyo(2025, 6, 2, 8), tokyo(2025, 6, 2, 8)),  # the window opens at 08:00 sharp
        (tokyo(2025, 6, 2, 21), tokyo(2025, 6, 3, 8)),  # and is closed at 21:00 sharp
        (tokyo(2025, 6, 2, 0, 30), tokyo(2025, 6, 2, 8)),
        (tokyo(2025, 12, 31, 22), tokyo(2026, 1, 1, 8)),  # across the year end
    ],
)
def test_window_edges(now: datetime, expected: datetime) -> None:
    assert send_time(now) == expected


def test_accepts_any_time_zone() -> None:
    now = datetime(2025, 6, 2, 14, 0, tzinfo=UTC)  # 23:00 in Tokyo
    result = send_time(now)
    assert result == tokyo(2025, 6, 3, 8)
    assert result.tzinfo == TOKYO


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        send_time(datetime(2025, 6, 2, 12, 0))


@pytest.mark.parametrize(
    ("preferred", "now", "expected"),
    [
        (ContactTime.MORNING, tokyo(2025, 6, 2, 9), tokyo(2025, 6, 2, 9)),
        (ContactTime.MORNING, tokyo(2025, 6, 2, 12), tokyo(2025, 6, 3, 8)),
        (ContactTime.MORNING, tokyo(2025, 6, 2, 6), tokyo(2025, 6, 2, 8)),
        (ContactTime.AFTERNOON, tokyo(2025, 6, 2, 9), tokyo(2025, 6, 2, 12)),
        (ContactTime.AFTERNOON, tokyo(2025, 6, 2, 16, 59), tokyo(2025, 6, 2, 16, 59)),
        (ContactTime.AFTERNOON, tokyo(2025, 6, 2, 17), tokyo(2025, 6, 3, 12)),
        (ContactTime.EVENING, tokyo(2025, 6, 2, 10), tokyo(2025, 6, 2, 17)),
        (ContactTime.EVENING, tokyo(2025, 6, 2, 20, 59), tokyo(2025, 6, 2, 20, 59)),
        (ContactTime.EVENING, tokyo(2025, 6, 2, 21, 30), tokyo(2025, 6, 3, 17)),
        (ContactTime.ANY, tokyo(2025, 6, 2, 12), tokyo(2025, 6, 2, 12)),
    ],
)
def test_preferred_windows(preferred: ContactTime, now: datetime, expected: datetime) -> None:
    assert send_time(now, preferred) == expected


def test_no_daylight_saving_shift_all_year() -> None:
    # 22:00 Tokyo is always 10 hours before 08:00, including on the days other zones change.
    day = date(2025, 1, 1)
    while day.year == 2025:
        now = datetime(day.year, day.month, day.day, 13, 0, tzinfo=UTC)  # 22:00 JST
        assert send_time(now) - now == timedelta(hours=10)
        day += timedelta(days=1)


def test_is_night() -> None:
    assert is_night(tokyo(2025, 6, 2, 21))
    assert is_night(tokyo(2025, 6, 2, 7, 59))
    assert not is_night(tokyo(2025, 6, 2, 8))
    assert not is_night(tokyo(2025, 6, 2, 20, 59))
