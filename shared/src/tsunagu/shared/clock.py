"""Time for every service: the clock a service reads "now" from, and Japan's time zone.

Services take a `Clock` in their composition root, so that tests can inject one they advance.
Days, deadlines, quiet hours and event dates are reckoned in `JAPAN` (Asia/Tokyo; Japan has no
daylight saving time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
