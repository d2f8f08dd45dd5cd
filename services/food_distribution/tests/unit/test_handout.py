"""Handout checks: eligibility, one per event (or per N days), stock, and the desk messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tsunagu.food_distribution.domain.eligibility import (
    Eligibility,
    eligibility_from_decision,
    manual_grant,
)
from tsunagu.food_distribution.domain.handout import (
    JST,
    Handout,
    HandoutPolicy,
    Ok,
    Refusal,
    RefusalCode,
    check_handout,
)
from tsunagu.shared.contracts.codes import ParcelType

P = ParcelType
HH = "hh-1"
EV = "ev-2026-11-28"
NOW = datetime(2026, 11, 28, 14, 0, tzinfo=JST)
ELIGIBLE = eligibility_from_decision(True, "2026.1")
FULL = {P.STANDARD: 10, P.NO_PORK: 3, P.ALLERGY_FRIENDLY: 2, P.INFANT: 1}


def served(
    at: datetime,
    event_id: str = EV,
    by: str = "food",
    household_id: str = HH,
    parcel_type: ParcelType = P.STANDARD,
) -> Handout:
    return Handout(household_id, event_id, parcel_type, at, by)


def check(
    *,
    policy: HandoutPolicy | None = None,
    previous: list[Handout] | None = None,
    eligibility: Eligibility | None = ELIGIBLE,
    stock: dict[ParcelType, int] | None = None,
    parcel_type: ParcelType = P.STANDARD,
    now: datetime = NOW,
) -> Ok | Refusal:
    return check_handout(
        policy or HandoutPolicy(),
        HH,
        EV,
        now,
        previous or [],
        eligibility,
        FULL if stock is None else stock,
        parcel_type,
    )


def test_ok_when_eligible_unserved_and_in_stock() -> None:
    assert check() == Ok(household_id=HH, event_id=EV, parcel_type=P.STANDARD)


def test_manual_grant_is_enough() -> None:
    result = check(eligibility=manual_grant("case-9", "lead", "所持金なし"))
    assert isinstance(result, Ok)


D = datetime
T = JST


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("no eligibility", {"eligibility": None}, RefusalCode.NOT_ELIGIBLE),
        (
            "not eligible wins over served and empty stock",
            {
                "eligibility": None,
                "previous": [served(D(2026, 11, 28, 10, 42, tzinfo=T))],
                "stock": {},
            },
            RefusalCode.NOT_ELIGIBLE,
        ),
        (
            "served at this event",
            {"previous": [served(D(2026, 11, 28, 10, 42, tzinfo=T))]},
            RefusalCode.ALREADY_SERVED,
        ),
        (
            "served wins over empty stock",
            {"previous": [served(D(2026, 11, 28, 10, 42, tzinfo=T))], "stock": {}},
            RefusalCode.ALREADY_SERVED,
        ),
        ("another household served", {"previous": [served(NOW, household_id="hh-2")]}, None),
        (
            "served at another event, no day rule",
            {"previous": [served(NOW - timedelta(days=3), "ev-old")]},
            None,
        ),
        (
            "per_event 2 allows a second",
            {"policy": HandoutPolicy(per_event=2), "previous": [served(NOW)]},
            None,
        ),
        (
            "per_event 2 refuses a third",
            {"policy": HandoutPolicy(per_event=2), "previous": [served(NOW), served(NOW)]},
            RefusalCode.ALREADY_SERVED,
        ),
        (
            "30 days: 29 days ago refused",
            {
                "policy": HandoutPolicy(min_days_between=30),
                "previous": [served(NOW - timedelta(days=29), "ev-old")],
            },
            RefusalCode.ALREADY_SERVED,
        ),
        (
            "30 days: 30 calendar days ago allowed even if later in the day",
            {
                "policy": HandoutPolicy(min_days_between=30),
                "previous": [served(D(2026, 10, 29, 16, 0, tzinfo=T), "ev-old")],
            },
            None,
        ),
        (
            "30 days: same-event handouts are governed by per_event",
            {"policy": HandoutPolicy(per_event=2, min_days_between=30), "previous": [served(NOW)]},
            None,
        ),
        (
            "requested type empty",
            {"stock": {**FULL, P.INFANT: 0}, "parcel_type": P.INFANT},
            RefusalCode.OUT_OF_STOCK,
        ),
        (
            "type missing from stock",
            {"stock": {P.STANDARD: 4}, "parcel_type": P.NO_PORK},
            RefusalCode.OUT_OF_STOCK,
        ),
        ("other type empty is fine", {"stock": {**FULL, P.INFANT: 0}}, None),
        ("last parcel", {"stock": {P.STANDARD: 1}}, None),
    ],
)
def test_check_handout_table(
    name: str, kwargs: dict[str, object], expected: RefusalCode | None
) -> None:
    result = check(**kwargs)  # type: ignore[arg-type]
    if expected is None:
        assert isinstance(result, Ok), name
    else:
        assert isinstance(result, Refusal), name
        assert result.code is expected, name


def test_already_served_names_when_and_by_whom() -> None:
    result = check(previous=[served(datetime(2026, 11, 28, 10, 42, tzinfo=JST), by="food")])
    assert isinstance(result, Refusal)
    assert result.message_ja == "2026-11-28 10:42 に food さんが受け渡し済みです"
    assert result.message_en == "Already served: handed out by food at 2026-11-28 10:42"
    assert result.details["handed_out_by"] == "food"
    assert result.details["handed_out_at"] == "2026-11-28T10:42:00+09:00"
    assert result.details["rule"] == "per_event"


def test_already_served_shows_tokyo_time_for_utc_timestamps() -> None:
    utc_time = datetime(2026, 11, 28, 1, 42, tzinfo=UTC)
    result = check(previous=[served(utc_time)])
    assert isinstance(result, Refusal)
    assert result.message_ja.startswith("2026-11-28 10:42 に")


def test_already_served_names_the_latest_handout() -> None:
    result = check(
        policy=HandoutPolicy(per_event=2),
        previous=[
            served(datetime(2026, 11, 28, 11, 5, tzinfo=JST), by="sato"),
            served(datetime(2026, 11, 28, 10, 0, tzinfo=JST), by="food"),
        ],
    )
    assert isinstance(result, Refusal)
    assert result.message_ja == (
        "2026-11-28 11:05 に sato さんが受け渡し済みです（この開催では1世帯2個まで）"
    )


def test_days_rule_says_when_the_household_may_come_again() -> None:
    result = check(
        policy=HandoutPolicy(min_days_between=30),
        previous=[served(datetime(2026, 11, 14, 10, 42, tzinfo=JST), "ev-old", by="food")],
    )
    assert isinstance(result, Refusal)
    assert result.message_ja == (
        "2026-11-14 10:42 に food さんが受け渡し済みです（30日に1回まで。次回は 2026-12-14 から）"
    )
    assert result.details["next_allowed_on"] == "2026-12-14"
    assert result.details["event_id"] == "ev-old"


def test_out_of_stock_lists_what_remains_per_type() -> None:
    result = check(stock={P.STANDARD: 0, P.NO_PORK: 3, P.INFANT: 1})
    assert isinstance(result, Refusal)
    assert result.message_ja == (
        "標準は在庫切れです"
        "（標準: 0、豚肉不使用（ハラール対応）: 3、アレルギー対応: 0、乳幼児用: 1）"
    )
    assert result.message_en == (
        "Out of stock: standard (remaining standard: 0, no_pork: 3, allergy_friendly: 0, infant: 1)"
    )
    assert result.details == {
        "parcel_type": "standard",
        "remaining": {"standard": 0, "no_pork": 3, "allergy_friendly": 0, "infant": 1},
    }


def test_not_eligible_gives_the_reason() -> None:
    result = check(eligibility=None)
    assert isinstance(result, Refusal)
    assert "振り分けの判断で対象とされておらず" in result.message_ja
    assert "routing has not found the case eligible" in result.message_en
    assert result.details["reason"] == "not_eligible_by_routing"


@pytest.mark.parametrize(("per_event", "min_days"), [(0, None), (-1, None), (1, 0), (1, -30)])
def test_policy_rejects_nonsense(per_event: int, min_days: int | None) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HandoutPolicy(per_event=per_event, min_days_between=min_days)
