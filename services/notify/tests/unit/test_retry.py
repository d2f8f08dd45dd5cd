"""Retry schedule and the transient / permanent classification of delivery errors."""

from datetime import UTC, datetime, timedelta

import pytest

from tsunagu.notify.domain.retry import (
    DEFAULT_POLICY,
    DeliveryStatus,
    RetryPolicy,
    classify_http_status,
    classify_smtp_reply,
    next_attempt_at,
)

NOW = datetime(2025, 6, 2, 3, 0, tzinfo=UTC)


def test_backoff_doubles_up_to_the_cap_without_jitter() -> None:
    delays = [next_attempt_at(n, NOW, rand=lambda: 0.0) for n in range(1, 8)]
    minutes = [(d - NOW) / timedelta(minutes=1) for d in delays if d is not None]
    assert minutes == [2, 4, 8, 16, 32, 64, 120]


def test_jitter_only_lengthens_and_stays_within_its_bound() -> None:
    for attempt in range(1, DEFAULT_POLICY.max_attempts):
        low = next_attempt_at(attempt, NOW, rand=lambda: 0.0)
        high = next_attempt_at(attempt, NOW, rand=lambda: 0.999999)
        assert low is not None and high is not None
        assert low <= high < NOW + (low - NOW) * (1 + DEFAULT_POLICY.jitter)


def test_real_randomness_stays_in_bounds() -> None:
    for _ in range(200):
        at = next_attempt_at(3, NOW)
        assert at is not None
        assert timedelta(minutes=8) <= at - NOW < timedelta(minutes=8) * 1.2


def test_gives_up_after_max_attempts() -> None:
    assert next_attempt_at(7, NOW) is not None
    assert next_attempt_at(8, NOW) is None
    assert next_attempt_at(9, NOW) is None


def test_custom_policy() -> None:
    policy = RetryPolicy(base=timedelta(seconds=10), factor=3, max_attempts=3, jitter=0)
    assert policy.next_attempt_at(1, NOW) == NOW + timedelta(seconds=10)
    assert policy.next_attempt_at(2, NOW) == NOW + timedelta(seconds=30)
    assert policy.next_attempt_at(3, NOW) is None


def test_attempts_are_one_based() -> None:
    with pytest.raises(ValueError, match="1-based"):
        next_attempt_at(0, NOW)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (250, DeliveryStatus.SENT),
        (421, DeliveryStatus.TRANSIENT_FAILURE),
        (450, DeliveryStatus.TRANSIENT_FAILURE),
        (451, DeliveryStatus.TRANSIENT_FAILURE),
        (452, DeliveryStatus.TRANSIENT_FAILURE),
        (550, DeliveryStatus.PERMANENT_FAILURE),
        (553, DeliveryStatus.PERMANENT_FAILURE),
        (554, DeliveryStatus.PERMANENT_FAILURE),
    ],
)
def test_smtp_replies(code: int, status: DeliveryStatus) -> None:
    assert classify_smtp_reply(code) is status


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (200, DeliveryStatus.SENT),
        (202, DeliveryStatus.SENT),
        (301, DeliveryStatus.PERMANENT_FAILURE),
        (400, DeliveryStatus.PERMANENT_FAILURE),
        (401, DeliveryStatus.PERMANENT_FAILURE),
        (404, DeliveryStatus.PERMANENT_FAILURE),
        (422, DeliveryStatus.PERMANENT_FAILURE),
        (408, DeliveryStatus.TRANSIENT_FAILURE),
        (429, DeliveryStatus.TRANSIENT_FAILURE),
        (500, DeliveryStatus.TRANSIENT_FAILURE),
        (502, DeliveryStatus.TRANSIENT_FAILURE),
        (503, DeliveryStatus.TRANSIENT_FAILURE),
    ],
)
def test_http_statuses(code: int, status: DeliveryStatus) -> None:
    assert classify_http_status(code) is status
