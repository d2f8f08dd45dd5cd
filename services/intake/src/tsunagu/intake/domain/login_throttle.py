"""Failed logins: after too many in a row for one username, that username waits.

Counted per username as typed (known or not, so the answer never tells whether a username
exists). Failures older than the window no longer count; a success clears the count. While
locked, even the right password is refused: that is what stops guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)


@dataclass(frozen=True)
class Failures:
    count: int
    first_at: datetime
    locked_until: datetime | None = None


def locked_until(failures: Failures | None, now: datetime) -> datetime | None:
    """When the username may try again, if it is locked now."""
    if failures is None or failures.locked_until is None or failures.locked_until <= now:
        return None
    return failures.locked_until


def after_failure(failures: Failures | None, now: datetime) -> Failures:
    """The count after one more failed login at ``now`` (while not locked): the failure that
    reaches ``MAX_FAILURES`` within ``WINDOW`` locks the username for ``LOCK``."""
    stale = (
        failures is None or now - failures.first_at > WINDOW or failures.locked_until is not None
    )
    current = Failures(count=0, first_at=now) if stale or failures is None else failures
    count = current.count + 1
    lock = now + LOCK if count >= MAX_FAILURES else None
    return Failures(count=count, first_at=current.first_at, locked_until=lock)
