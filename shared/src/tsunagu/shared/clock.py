"""Time for every service: the clock a service reads "now" from, and Japan's time zone.

Services take a `Clock` in their composition root, so that tests can inject one they advance.
Days, deadlines, quiet hours and event dates are reckoned in `JAPAN` (Asia/Tokyo; Japan has no
daylight saving time). `japan_today` is the date that decides which events take residents in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tsunagu.shared.logs import get_logger

#: Where a service reads "now" from (timezone-aware, UTC).
Clock = Callable[[], datetime]

#: The time zone every event, deadline and quiet hour is reckoned in.
JAPAN = ZoneInfo("Asia/Tokyo")


def system_clock() -> datetime:
    return datetime.now(UTC)


def offset_clock(seconds: float) -> Clock:
    """Real time moved by ``seconds``: lets a test of a running service pass a deadline."""
    offset = timedelta(seconds=seconds)

    def now() -> datetime:
        return system_clock() + offset

    return now


def service_clock(offset_seconds: float, *, env: str, setting: str) -> Clock:
    """The clock a service reads: real time, or real time moved by ``offset_seconds`` where a
    whole-system test asks for it (``setting`` names the variable that did). An offset is for
    tests: a service in prod refuses to start with one."""
    if not offset_seconds:
        return system_clock
    if env == "prod":
        raise RuntimeError(f"{setting} is for tests; not in prod")
    get_logger(__name__).warning("clock_offset", setting=setting, seconds=offset_seconds)
    return offset_clock(offset_seconds)


_pinned_today: date | None = None


def pin_japan_today(day: date | None) -> None:
    """Make ``japan_today`` answer ``day`` in this process (None changes nothing).

    For test stacks (``TSUNAGU_PINNED_DATE``, refused in prod by the settings): a run that
    passes midnight in Tokyo would otherwise find the events it seeded are no longer today's.
    A service's runtime pins the date its settings name, if any."""
    global _pinned_today
    if day is not None and day != _pinned_today:
        get_logger(__name__).warning("pinned_date", date=day.isoformat())
        _pinned_today = day


def japan_today() -> date:
    """Today's date in Japan: which events take residents in, and whose day a desk serves."""
    return _pinned_today or system_clock().astimezone(JAPAN).date()
