"""Failed logins: growing waits per address, per address and username, per username; no lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tsunagu.intake.domain.login_throttle import (
    ADDRESS,
    FORGET_AFTER,
    PAIR,
    USERNAME,
    Count,
    Rule,
    after_failure,
    key,
    retry_at,
    wait,
)

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


def failed(times: int, start: datetime = T0) -> Count:
    count = None
    for n in range(times):
        count = after_failure(count, start + n * timedelta(seconds=1))
    assert count is not None
    return count


def test_the_first_failures_are_free_then_each_doubles_the_wait():
    assert wait(PAIR, failed(PAIR.free)) == timedelta(0)
    waits = [wait(PAIR, failed(PAIR.free + n)) for n in range(1, 5)]
    assert waits == [PAIR.base, PAIR.base * 2, PAIR.base * 4, PAIR.base * 8]


def test_waits_stop_at_the_cap_and_the_username_cap_is_short():
    assert wait(PAIR, failed(200)) == PAIR.cap
    assert wait(USERNAME, failed(200)) == USERNAME.cap <= timedelta(seconds=30)


def test_twelve_guesses_from_one_address_leave_the_user_free_elsewhere_within_a_minute():
    twelve = failed(12)
    now = T0 + timedelta(seconds=12)
    here = {ADDRESS: twelve, PAIR: twelve, USERNAME: twelve}
    assert retry_at(here, now) is not None  # the guessing machine waits
    elsewhere: dict[Rule, Count | None] = {ADDRESS: None, PAIR: None, USERNAME: twelve}
    until = retry_at(elsewhere, now)
    assert until is None or until - now <= timedelta(minutes=1)


def test_counts_are_forgotten_an_hour_after_the_last_failure():
    count = failed(50)
    later = count.last_failed_at + FORGET_AFTER + timedelta(seconds=1)
    assert retry_at({PAIR: count}, later) is None
    assert after_failure(count, later).failures == 1


def test_keys_tell_the_rules_apart():
    keys = {key(r, address="192.0.2.1", username="uketsuke") for r in (ADDRESS, PAIR, USERNAME)}
    assert keys == {"addr:192.0.2.1", "pair:192.0.2.1|uketsuke", "user:uketsuke"}
