"""Whether the food desk may hand a parcel to a household now, and if not, why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from tsunagu.food_distribution.domain.eligibility import Eligibility
from tsunagu.food_distribution.domain.labels import PARCEL_TYPE_LABELS_JA
from tsunagu.shared.clock import JAPAN
from tsunagu.shared.contracts.codes import ParcelType

# Japan has no daylight saving time, so a fixed offset is exact and needs no tz database.
JST = JAPAN


@dataclass(frozen=True)
class HandoutPolicy:
    """How often a household may receive a parcel.

    ``per_event``: parcels per household at one event. ``min_days_between``: if set, a
    household served at another event fewer than this many calendar days (Asia/Tokyo)
    earlier is refused, e.g. 30 for "once per 30 days".
    """

    per_event: int = 1
    min_days_between: int | None = None

    def __post_init__(self) -> None:
        if self.per_event < 1:
            raise ValueError("per_event must be at least 1")
        if self.min_days_between is not None and self.min_days_between < 1:
            raise ValueError("min_days_between must be at least 1 when set")


@dataclass(frozen=True)
class Handout:
    """A parcel handed to a household; who handed it out is always recorded."""

    household_id: str
    event_id: str
    parcel_type: ParcelType
    handed_out_at: datetime  # naive values are taken as Asia/Tokyo
    handed_out_by: str


class RefusalCode(StrEnum):
    NOT_ELIGIBLE = "not_eligible"
    ALREADY_SERVED = "already_served"
    OUT_OF_STOCK = "out_of_stock"


@dataclass(frozen=True)
class Ok:
    household_id: str
    event_id: str
    parcel_type: ParcelType


@dataclass(frozen=True)
class Refusal:
    """Why the desk must not hand out; messages are shown to staff as they are."""

    code: RefusalCode
    message_ja: str
    message_en: str
    details: Mapping[str, object] = field(default_factory=dict)  # JSON-ready values


def check_handout(
    policy: HandoutPolicy,
    household_id: str,
    event_id: str,
    now: datetime,
    previous_handouts: Iterable[Handout],
    eligibility: Eligibility | None,
    stock_remaining: Mapping[ParcelType, int],
    parcel_type: ParcelType,
) -> Ok | Refusal:
    """Check eligibility, then prior handouts, then stock, and return the first refusal.

    Prior handouts come before stock because switching parcel type cannot fix them.
    ``previous_handouts`` may include other households; only this one's are considered.
    """
    if eligibility is None:
        return _not_eligible()
    mine = [h for h in previous_handouts if h.household_id == household_id]
    refusal = _already_served(policy, event_id, now, mine)
    if refusal is not None:
        return refusal
    if stock_remaining.get(parcel_type, 0) <= 0:
        return _out_of_stock(parcel_type, stock_remaining)
    return Ok(household_id=household_id, event_id=event_id, parcel_type=parcel_type)


def _jst(moment: datetime) -> datetime:
    return moment.astimezone(JST) if moment.tzinfo is not None else moment


def _stamp(moment: datetime) -> str:
    return _jst(moment).strftime("%Y-%m-%d %H:%M")


def _not_eligible() -> Refusal:
    return Refusal(
        code=RefusalCode.NOT_ELIGIBLE,
        message_ja=(
            "配布の対象ではありません。振り分けの判断で対象とされておらず、"
            "職員による個別の付与もありません"
        ),
        message_en=(
            "Not eligible: routing has not found the case eligible "
            "and no staff member has granted a parcel"
        ),
        details={"reason": "not_eligible_by_routing"},
    )


def _already_served(
    policy: HandoutPolicy, event_id: str, now: datetime, mine: list[Handout]
) -> Refusal | None:
    here = [h for h in mine if h.event_id == event_id]
    if len(here) >= policy.per_event:
        last = max(here, key=lambda h: h.handed_out_at)
        limit_ja = f"（この開催では1世帯{policy.per_event}個まで）" if policy.per_event > 1 else ""
        return _served_refusal(last, "per_event", limit_ja, "", {"per_event": policy.per_event})

    if policy.min_days_between is None:
        return None
    days = policy.min_days_between
    today = _jst(now).date()
    recent = [
        h
        for h in mine
        if h.event_id != event_id and (today - _jst(h.handed_out_at).date()).days < days
    ]
    if not recent:
        return None
    last = max(recent, key=lambda h: h.handed_out_at)
    next_day: date = _jst(last.handed_out_at).date() + timedelta(days=days)
    return _served_refusal(
        last,
        "min_days_between",
        f"（{days}日に1回まで。次回は {next_day.isoformat()} から）",
        f" (once per {days} days; next from {next_day.isoformat()})",
        {"min_days_between": days, "next_allowed_on": next_day.isoformat()},
    )


def _served_refusal(
    last: Handout, rule: str, suffix_ja: str, suffix_en: str, extra: dict[str, object]
) -> Refusal:
    when = _stamp(last.handed_out_at)
    return Refusal(
        code=RefusalCode.ALREADY_SERVED,
        message_ja=f"{when} に {last.handed_out_by} さんが受け渡し済みです{suffix_ja}",
        message_en=f"Already served: handed out by {last.handed_out_by} at {when}{suffix_en}",
        details={
            "rule": rule,
            "handed_out_at": _jst(last.handed_out_at).isoformat(),
            "handed_out_by": last.handed_out_by,
            "event_id": last.event_id,
            "parcel_type": str(last.parcel_type),
            **extra,
        },
    )


def _out_of_stock(parcel_type: ParcelType, stock_remaining: Mapping[ParcelType, int]) -> Refusal:
    remaining = {t: max(stock_remaining.get(t, 0), 0) for t in ParcelType}
    listed_ja = "、".join(f"{PARCEL_TYPE_LABELS_JA[t]}: {n}" for t, n in remaining.items())
    listed_en = ", ".join(f"{t}: {n}" for t, n in remaining.items())
    return Refusal(
        code=RefusalCode.OUT_OF_STOCK,
        message_ja=f"{PARCEL_TYPE_LABELS_JA[parcel_type]}は在庫切れです（{listed_ja}）",
        message_en=f"Out of stock: {parcel_type} (remaining {listed_en})",
        details={
            "parcel_type": str(parcel_type),
            "remaining": {str(t): n for t, n in remaining.items()},
        },
    )
