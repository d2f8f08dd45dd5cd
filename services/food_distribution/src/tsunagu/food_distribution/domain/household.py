"""Linking two members of one household at the desk: one parcel per household per event holds
only when the desk knows they live together (intake may have taken them in as two households).

Plain functions over plain data; the service layer moves the rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LinkCase:
    case_id: str
    case_number: str
    household_id: str
    event_id: str


@dataclass(frozen=True)
class LinkRefusal:
    code: str
    message_ja: str
    message_en: str


def check_link(case: LinkCase, other: LinkCase) -> LinkRefusal | None:
    """Why ``case`` may not join ``other``'s household, or ``None``: both at the same event
    (the desk links the people in front of it), two different cases, not yet one household."""
    if case.case_id == other.case_id:
        return LinkRefusal(
            "same_case",
            "同じ相談番号です。同じ世帯のもう一人の相談番号を入力してください",
            "The same case: give the other household member's case number",
        )
    if case.event_id != other.event_id:
        return LinkRefusal(
            "other_event",
            f"相談番号 {other.case_number} は本日のこの開催の受付ではありません",
            "The other case was not taken in at this event",
        )
    if case.household_id == other.household_id:
        return LinkRefusal(
            "already_linked",
            f"相談番号 {other.case_number} とはすでに同じ世帯です",
            "The two cases are already one household",
        )
    return None
