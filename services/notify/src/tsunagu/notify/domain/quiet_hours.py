"""When a resident message may go out: never at night, and in the resident's preferred window.

Residents are only contacted between 08:00 and 21:00 Asia/Tokyo (docs/domain.md, "Contact").
Within that day window a resident may prefer the morning, afternoon or evening; non-urgent
contact honours the preference by waiting for the next start of that window. Staff messages
are not restricted: planning simply uses ``now`` for them.

Japan has observed no daylight saving time since 1951, so every Tokyo day is 24 hours long and
the arithmetic below never meets a skipped or repeated hour; zoneinfo is still used so that
``now`` may arrive in any time zone.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from tsunagu.shared.clock import JAPAN
from tsunagu.shared.contracts.codes import ContactTime

TOKYO = JAPAN

#: The contact windows in Tokyo local time: [start, end). ``ANY`` is the whole day window.
WINDOWS: dict[ContactTime, tuple[time, time]] = {
    ContactTime.ANY: (time(8), time(21)),
    ContactTime.MORNING: (time(8), time(12)),
    ContactTime.AFTERNOON: (time(12), time(17)),
    ContactTime.EVENING: (time(17), time(21)),
}


def is_night(now: datetime) -> bool:
    """True between 21:00 and 08:00 Tokyo, when no resident message may be sent."""
    start, end = WINDOWS[ContactTime.ANY]
    local = _tokyo(now).time()
    return not start <= local < end


def send_time(now: datetime, preferred: ContactTime = ContactTime.ANY) -> datetime:
    """The earliest moment, at or after ``now``, when a resident message may be sent.

    Returns ``now`` itself when it lies inside the preferred window, otherwise the next start
    of that window as an Asia/Tokyo datetime. ``now`` must be timezone-aware.
    """
    start, end = WINDOWS[ContactTime(preferred)]
    local = _tokyo(now)
    if start <= local.time() < end:
        return now
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=TOKYO)


def _tokyo(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(TOKYO)
