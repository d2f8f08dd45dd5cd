"""Failed logins: five within fifteen minutes lock the username for fifteen minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tsunagu.intake.domain.login_throttle import (
    LOCK,
    MAX_FAILURES,
    WINDOW,
    Failures,
    after_failure,
    locked_until,
)

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def fail(times: int, start: datetime = T0, every: timedelta = timedelta(seconds=10)) -> Failures:
    failures = None
    for n in range(times):
        failures = after_failure(failures, start + n * every)
    assert failures is not None
    return failures


def test_four_failures_do_not_lock_and_the_fifth_does():
    four = fail(MAX_FAILURES - 1)
    assert four.count == 4 and locked_until(four, T0 + timedelta(minutes=1)) is None
    five = fail(MAX_FAILURES)
    last = T0 + (MAX_FAILURES - 1) * timedelta(seconds=10)
    assert locked_until(five, last) == last + LOCK
    assert locked_until(five, last + LOCK - timedelta(seconds=1)) == last + LOCK


def test_the_lock_runs_out_and_the_count_starts_again():
    five = fail(MAX_FAILURES)
    later = five.locked_until + timedelta(seconds=1)  # type: ignore[operator]
    assert locked_until(five, later) is None
    again = after_failure(five, later)
    assert (again.count, again.first_at, again.locked_until) == (1, later, None)


def test_failures_spread_wider_than_the_window_never_lock():
    spread = fail(MAX_FAILURES * 3, every=WINDOW / (MAX_FAILURES - 1) + timedelta(seconds=1))
    assert spread.locked_until is None
    assert spread.count < MAX_FAILURES


def test_no_failures_no_lock():
    assert locked_until(None, T0) is None
