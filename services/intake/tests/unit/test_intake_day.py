"""Which events take residents in: the event's own day; a case taken offline on the event's day
and sent within the window; or any day with an admin's reason."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tsunagu.intake.domain.intake_day import (
    CLOCK_SKEW,
    OFFLINE_WINDOW,
    Ground,
    Refusal,
    admission,
    not_today_message,
    offline_day,
)
from tsunagu.shared.clock import JAPAN

DAY = date(2026, 12, 6)
YESTERDAY = DAY - timedelta(days=1)
#: The next morning in Tokyo, 09:00 (00:00 UTC).
MORNING = datetime(2026, 12, 6, 9, 0, tzinfo=JAPAN)


def tokyo(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=JAPAN)


def test_only_on_the_events_own_day():
    assert admission(DAY, DAY, None, now=MORNING) is Ground.ON_THE_DAY
    assert isinstance(admission(DAY + timedelta(days=7), DAY, None, now=MORNING), Refusal)
    assert isinstance(admission(YESTERDAY, DAY, None, now=MORNING), Refusal)


def test_an_admins_reason_opens_other_days():
    assert admission(YESTERDAY, DAY, "紙の受付票を入力", now=MORNING) is Ground.LATE_INTAKE
    assert isinstance(admission(YESTERDAY, DAY, "", now=MORNING), Refusal)


def test_the_refusal_names_the_events_date():
    assert not_today_message(date(2026, 12, 13)).startswith("12月13日の相談会は本日ではない")
    refused = admission(date(2026, 12, 13), DAY, None, now=MORNING)
    assert isinstance(refused, Refusal)
    assert refused.message == not_today_message(date(2026, 12, 13))
    assert refused.message_en.isascii()


def test_a_case_taken_offline_on_the_events_day_is_taken_in_after_midnight():
    taken = tokyo(YESTERDAY, 16)
    assert admission(YESTERDAY, DAY, None, taken_offline_at=taken, now=MORNING) is (
        Ground.TAKEN_OFFLINE
    )
    # Sent a minute after midnight, too.
    just_after = tokyo(DAY, 0, 1)
    assert admission(YESTERDAY, DAY, None, taken_offline_at=taken, now=just_after) is (
        Ground.TAKEN_OFFLINE
    )
    # The leave is not needed, and the offline ground is the one the audit records.
    assert admission(YESTERDAY, DAY, "紙", taken_offline_at=taken, now=MORNING) is (
        Ground.TAKEN_OFFLINE
    )


def test_on_the_events_day_a_taken_at_changes_nothing():
    taken = tokyo(DAY, 8)
    assert admission(DAY, DAY, None, taken_offline_at=taken, now=MORNING) is Ground.ON_THE_DAY
    # Even a device clock far off does not refuse a case on the event's own day.
    wrong = MORNING + timedelta(days=3)
    assert admission(DAY, DAY, None, taken_offline_at=wrong, now=MORNING) is Ground.ON_THE_DAY


def test_the_events_day_is_tokyos_not_utcs():
    # 23:59 in Tokyo on the 5th is 14:59 UTC on the 5th; 00:30 in Tokyo on the 6th is 15:30
    # UTC on the 5th: a UTC date would put it at the 5th's event.
    late_evening = datetime(2026, 12, 5, 14, 59, tzinfo=UTC)
    after_midnight = datetime(2026, 12, 5, 15, 30, tzinfo=UTC)
    assert offline_day(late_evening, MORNING) == YESTERDAY
    assert offline_day(after_midnight, MORNING) == DAY
    now = tokyo(DAY + timedelta(days=1), 9)
    assert (
        admission(YESTERDAY, DAY + timedelta(days=1), None, taken_offline_at=late_evening, now=now)
        is Ground.TAKEN_OFFLINE
    )
    refused = admission(
        YESTERDAY, DAY + timedelta(days=1), None, taken_offline_at=after_midnight, now=now
    )
    assert isinstance(refused, Refusal)
    assert "12月6日 00:30" in refused.message and "相談会の日ではありません" in refused.message
    # The offset the device sent does not matter, only the moment.
    same_moment = late_evening.astimezone(JAPAN)
    assert offline_day(same_moment, MORNING) == offline_day(late_evening, MORNING)


def test_a_device_clock_a_little_ahead_is_allowed_more_is_not():
    assert timedelta(minutes=5) == CLOCK_SKEW
    # An event today per the device (tomorrow's, per the server), taken "now" on a fast clock.
    now = tokyo(DAY, 23, 58)
    ahead = now + CLOCK_SKEW
    assert offline_day(ahead, now) == DAY + timedelta(days=1)
    assert offline_day(ahead + timedelta(seconds=1), now) is None
    tomorrow = DAY + timedelta(days=1)
    assert admission(tomorrow, DAY, None, taken_offline_at=ahead, now=now) is (Ground.TAKEN_OFFLINE)
    refused = admission(tomorrow, DAY, None, taken_offline_at=ahead + timedelta(seconds=1), now=now)
    assert isinstance(refused, Refusal)
    assert "現在より後" in refused.message and "端末の日付と時刻" in refused.message
    assert "future" in refused.message_en


def test_a_case_kept_longer_than_the_window_needs_an_admin():
    assert timedelta(hours=72) == OFFLINE_WINDOW
    taken = tokyo(YESTERDAY, 16)
    at_the_edge = taken + OFFLINE_WINDOW
    assert admission(YESTERDAY, DAY, None, taken_offline_at=taken, now=at_the_edge) is (
        Ground.TAKEN_OFFLINE
    )
    too_late = at_the_edge + timedelta(seconds=1)
    refused = admission(YESTERDAY, DAY, None, taken_offline_at=taken, now=too_late)
    assert isinstance(refused, Refusal)
    assert refused.message.startswith("12月5日の相談会でオフライン受付した相談（12月5日 16:00）")
    assert "72時間を過ぎた" in refused.message and "管理者に許可" in refused.message
    assert "72 hours" in refused.message_en and refused.message_en.isascii()
    # An admin's leave takes it in then, as a late intake.
    assert (
        admission(YESTERDAY, DAY, "端末の送信が遅れた分", taken_offline_at=taken, now=too_late)
        is Ground.LATE_INTAKE
    )


def test_a_case_taken_offline_on_another_day_than_its_events_is_refused():
    taken = tokyo(YESTERDAY - timedelta(days=1), 16)  # the day before the event
    refused = admission(YESTERDAY, DAY, None, taken_offline_at=taken, now=MORNING)
    assert isinstance(refused, Refusal)
    assert refused.message.startswith("12月5日の相談会は本日ではないため受付できません")
    assert "12月4日 16:00" in refused.message
    # Next week's event with a taken-at of next week: in the future.
    next_week = DAY + timedelta(days=7)
    refused = admission(next_week, DAY, None, taken_offline_at=tokyo(next_week, 10), now=MORNING)
    assert isinstance(refused, Refusal) and "現在より後" in refused.message


def test_the_time_must_say_its_zone():
    with pytest.raises(ValueError, match="time zone"):
        offline_day(datetime(2026, 12, 5, 16, 0), MORNING)


def test_a_clock_at_the_ends_of_the_calendar_is_refused_not_a_crash():
    """Times a date cannot name in Tokyo (year 9999 there is past the last date; year 1 at
    +14:00 is before the first) are refused without their time."""
    for wrong in (
        datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=14))),
    ):
        assert offline_day(wrong, MORNING) is None
        refused = admission(YESTERDAY, DAY, None, taken_offline_at=wrong, now=MORNING)
        assert isinstance(refused, Refusal)
        assert "日時が" in refused.message and "（" not in refused.message
