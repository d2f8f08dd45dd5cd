"""Which events take residents in: an event on its own day only, unless an admin has given
leave for another day (paper sheets from a venue without network, typed in afterwards)."""

from __future__ import annotations

from datetime import date

#: What a program reads when a case is refused for its event's date.
NOT_TODAY = "event_not_today"


def takes_residents_in(event_date: date, today: date, late_intake_reason: str | None) -> bool:
    """True on the event's day, or on any day once an admin recorded why (``late_intake``)."""
    return event_date == today or bool(late_intake_reason)


def not_today_message(event_date: date) -> str:
    """The desk's words when the event is not today's (Japanese, as the pages speak)."""
    return (
        f"{event_date.month}月{event_date.day}日の相談会は本日ではないため受付できません。"
        "本日の相談会を選ぶか、日付外の受付を管理者に許可してもらってください"
    )
