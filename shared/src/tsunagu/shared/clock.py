"""Time for every service: the clock a service reads "now" from, and Japan's time zone.

Services take a `Clock` in their composition root, so that tests can inject one they advance.
Days, deadlines, quiet hours and event dates are reckoned in `JAPAN` (Asia/Tokyo; Japan has no
daylight saving time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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
