"""Delivery outcomes, which failures are worth retrying, and when to try again.

A transient failure (server busy, network down, SMTP 4xx, HTTP 5xx, a timeout) is retried
with exponential backoff; a permanent one (SMTP 5xx, HTTP 4xx: the address or request is
wrong and will stay wrong) is not, and the service layer moves on to the intent's next
channel. After ``max_attempts`` transient failures the delivery is given up as permanent.

Retries of resident messages must still respect quiet hours: pass the time returned here
through ``quiet_hours.send_time``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class DeliveryStatus(StrEnum):
    SENT = "sent"
    TRANSIENT_FAILURE = "transient_failure"
    PERMANENT_FAILURE = "permanent_failure"


#: HTTP 4xx statuses that mean "not now" rather than "never": request timeout, too early,
#: too many requests. Treating them as permanent would drop messages during rate limiting.
RETRYABLE_HTTP_4XX: frozenset[int] = frozenset({408, 425, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base * factor**(attempt-1)``, capped, plus up to ``jitter`` of it.

    The jitter only ever lengthens a delay, by at most ``jitter`` × delay, so that many
    messages failing together (a relay outage) do not all retry in the same second.
    """

    base: timedelta = timedelta(minutes=2)
    factor: float = 2.0
    cap: timedelta = timedelta(hours=2)
    jitter: float = 0.2
    max_attempts: int = 8

    def delay(self, attempt: int, rand: float = 0.0) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based); ``rand`` in [0, 1)."""
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        if not 0.0 <= rand < 1.0:
            raise ValueError("rand must be in [0, 1)")
        raw = min(self.base * self.factor ** (attempt - 1), self.cap)
        return raw * (1.0 + self.jitter * rand)

    def next_attempt_at(
        self, attempt: int, now: datetime, rand: Callable[[], float] = random.random
    ) -> datetime | None:
        """When to try again after failed attempt ``attempt``; None once attempts are spent."""
        if attempt >= self.max_attempts:
            return None
        return now + self.delay(attempt, rand())


DEFAULT_POLICY = RetryPolicy()


def next_attempt_at(
    attempt: int,
    now: datetime,
    rand: Callable[[], float] = random.random,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> datetime | None:
    """When to retry after failed attempt ``attempt`` (1-based) under ``policy``; None = give up."""
    return policy.next_attempt_at(attempt, now, rand)


def classify_smtp_reply(code: int) -> DeliveryStatus:
    """SMTP reply codes (RFC 5321 §4.2.1): 2xx/3xx fine, 4xx try later, 5xx never."""
    if 200 <= code < 400:
        return DeliveryStatus.SENT
    if 400 <= code < 500:
        return DeliveryStatus.TRANSIENT_FAILURE
    return DeliveryStatus.PERMANENT_FAILURE


def classify_http_status(status: int) -> DeliveryStatus:
    """HTTP statuses: 2xx sent, 5xx and the retryable 4xx transient, every other one permanent.

    Redirects count as permanent: a provider endpoint that moved is a configuration error,
    and re-posting a message to a new location blindly could send it twice.
    """
    if 200 <= status < 300:
        return DeliveryStatus.SENT
    if status >= 500 or status in RETRYABLE_HTTP_4XX:
        return DeliveryStatus.TRANSIENT_FAILURE
    return DeliveryStatus.PERMANENT_FAILURE
