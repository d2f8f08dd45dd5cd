"""Which events take residents in: an event on its own day; a case taken offline on the event's
day and sent later (ADR 32); or any day once an admin has given leave for another day (paper
sheets from a venue without network, typed in afterwards; ADR 20)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from tsunagu.shared.clock import JAPAN

#: What a program reads when a case is refused for its event's date.
NOT_TODAY = "event_not_today"

#: How far a device's clock may run ahead of the server's: a moment this little in the future
#: is still taken as now.
CLOCK_SKEW = timedelta(minutes=5)

#: How long a case taken offline is still taken in as of its event's day without an admin: the
#: next morning, or a Friday event sent on Monday morning. A case that waited longer has sat on
#: a shared tablet for days; an admin looks at it and gives leave with a reason (ADR 20).
OFFLINE_WINDOW = timedelta(hours=72)


class Ground(StrEnum):
    """Why a case is taken in at its event."""

    ON_THE_DAY = "on_the_day"
    TAKEN_OFFLINE = "taken_offline"
    LATE_INTAKE = "late_intake"


@dataclass(frozen=True)
class Refusal:
    """The event does not take this case in now: the desk's words, and an API client's."""

    message: str
    message_en: str


def offline_day(taken_at: datetime, now: datetime) -> date | None:
    """The event day a case taken offline at ``taken_at`` still belongs to: that moment's date
    in Tokyo, unless the moment is ahead of ``now`` (beyond the clock skew) or older than the
    window. Both must be timezone-aware."""
    if taken_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("taken_at and now must say their time zone")
    if taken_at > now + CLOCK_SKEW or now - taken_at > OFFLINE_WINDOW:
        return None
    return taken_at.astimezone(JAPAN).date()


def admission(
    event_date: date,
    today: date,
    late_intake_reason: str | None,
    *,
    taken_offline_at: datetime | None = None,
    now: datetime,
) -> Ground | Refusal:
    """Whether a case is taken in at an event held on ``event_date``, and on what ground.

    On the event's day (``today``, in Tokyo) always. On another day: when the device says the
    case was taken offline at a moment of the event's day that is neither in the future nor
    older than the window; else when an admin recorded why (``late_intake_reason``), which also
    takes an offline case the window no longer covers."""
    if event_date == today:
        return Ground.ON_THE_DAY
    if taken_offline_at is not None and offline_day(taken_offline_at, now) == event_date:
        return Ground.TAKEN_OFFLINE
    if late_intake_reason:
        return Ground.LATE_INTAKE
    if taken_offline_at is None:
        return Refusal(
            not_today_message(event_date),
            "The event is not today's; an admin may allow intake on other days",
        )
    return _offline_refusal(event_date, taken_offline_at, now)


def not_today_message(event_date: date) -> str:
    """The desk's words when the event is not today's (Japanese, as the pages speak)."""
    return (
        f"{event_date.month}月{event_date.day}日の相談会は本日ではないため受付できません。"
        "本日の相談会を選ぶか、日付外の受付を管理者に許可してもらってください"
    )


def _offline_refusal(event_date: date, taken_at: datetime, now: datetime) -> Refusal:
    event = f"{event_date.month}月{event_date.day}日の相談会"
    local = _in_tokyo(taken_at)
    when = "" if local is None else f"（{local.month}月{local.day}日 {local:%H:%M}）"
    if taken_at > now + CLOCK_SKEW:
        return Refusal(
            f"{event}は本日ではないため受付できません。オフラインで受け付けた日時{when}が"
            "現在より後になっています。端末の日付と時刻を確かめるか、"
            "日付外の受付を管理者に許可してもらってください",
            "The event is not today's, and the time the case was taken offline is in the "
            "future; check the device's clock, or an admin may allow intake on other days",
        )
    if local is None or local.date() != event_date:
        return Refusal(
            f"{event}は本日ではないため受付できません。オフラインで受け付けた日時{when}が"
            "相談会の日ではありません。相談会の選択を確かめるか、"
            "日付外の受付を管理者に許可してもらってください",
            "The event is not today's, and the case was not taken offline on the event's day; "
            "an admin may allow intake on other days",
        )
    hours = int(OFFLINE_WINDOW.total_seconds() // 3600)
    return Refusal(
        f"{event}でオフライン受付した相談{when}は、受付から{hours}時間を過ぎたため"
        "自動では登録できません。日付外の受付を管理者に許可してもらってください",
        f"The case was taken offline more than {hours} hours ago; an admin may allow "
        "intake on other days",
    )


def _in_tokyo(moment: datetime) -> datetime | None:
    """The moment in Tokyo; None for one a date cannot name there (before the year 1 or after
    9999: a clock that wrong is told so without its time)."""
    try:
        return moment.astimezone(JAPAN)
    except OverflowError:
        return None
