"""Where a delivery goes after an attempt: sent, retried later, the next channel, or given up."""

from datetime import UTC, datetime, timedelta

from tsunagu.notify.adapters.channels import DeliveryResult
from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.notify.domain.retry import DeliveryStatus, RetryPolicy
from tsunagu.notify.service_layer.sender import ChannelSet, after_attempt
from tsunagu.shared.contracts.codes import ContactTime

NOW = datetime(2025, 6, 3, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
POLICY = RetryPolicy(base=timedelta(minutes=2), jitter=0.0, max_attempts=3)
SENT = DeliveryResult(DeliveryStatus.SENT)
BUSY = DeliveryResult(DeliveryStatus.TRANSIENT_FAILURE, error="smtp_451")
REFUSED = DeliveryResult(DeliveryStatus.PERMANENT_FAILURE, error="http_400")


def outcome(result, **overrides):
    values = {
        "now": NOW,
        "channel_index": 0,
        "channel_attempts": 1,
        "next_channels": [],
        "policy": POLICY,
        "preferred_time": None,
    }
    values.update(overrides)
    return after_attempt(result, **values)


def test_sent_is_final():
    o = outcome(SENT)
    assert (o.status, o.next_attempt_at) == ("sent", None)


def test_a_transient_failure_is_retried_with_backoff():
    assert outcome(BUSY).next_attempt_at == NOW + timedelta(minutes=2)
    second = outcome(BUSY, channel_attempts=2)
    assert (second.status, second.next_attempt_at) == (
        "transient_failure",
        NOW + timedelta(minutes=4),
    )


def test_a_resident_retry_that_would_fall_in_the_night_waits_for_the_morning():
    evening = datetime(2025, 6, 3, 20, 59, tzinfo=TOKYO)
    o = outcome(BUSY, now=evening, preferred_time=ContactTime.ANY)
    assert o.next_attempt_at == datetime(2025, 6, 4, 8, 0, tzinfo=TOKYO)


def test_a_permanent_failure_moves_to_the_next_channel_at_once():
    o = outcome(REFUSED, next_channels=[2, 3])
    assert (o.status, o.channel_index, o.channel_attempts, o.next_attempt_at) == (
        "scheduled",
        2,
        0,
        NOW,
    )


def test_spent_retries_move_on_or_give_up():
    assert outcome(BUSY, channel_attempts=3, next_channels=[1]).status == "scheduled"
    given_up = outcome(BUSY, channel_attempts=3)
    assert (given_up.status, given_up.next_attempt_at) == ("permanent_failure", None)


def test_the_last_channel_refused_is_a_permanent_failure():
    assert outcome(REFUSED).status == "permanent_failure"


def test_channels_missing_from_the_set_are_none():
    channels = ChannelSet()
    assert channels.get("email") is None
    assert channels.get("carrier_pigeon") is None
