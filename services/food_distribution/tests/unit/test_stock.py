"""Stock ledger: movement validation, balances, out-of-stock and low-stock crossings."""

from __future__ import annotations

import itertools

import pytest

from tsunagu.food_distribution.domain.stock import (
    InvalidMovement,
    Movement,
    MovementKind,
    OutOfStock,
    apply,
    balance,
    empty_balance,
    low_stock_crossings,
)
from tsunagu.shared.contracts.codes import ParcelType

P = ParcelType
K = MovementKind
EV = "ev-2026-11-28"


@pytest.mark.parametrize(
    ("movement", "delta"),
    [
        (Movement.receipt(EV, P.STANDARD, 20, "フードバンク埼玉"), 20),
        (Movement.transfer_in(EV, P.STANDARD, 5, "ev-east"), 5),
        (Movement.transfer_out(EV, P.STANDARD, 3, "ev-east"), -3),
        (Movement.adjustment(EV, P.STANDARD, -2, "破損"), -2),
        (Movement.adjustment(EV, P.STANDARD, 4, "棚卸しで発見"), 4),
        (Movement.handout(EV, P.STANDARD), -1),
    ],
)
def test_delta_by_kind(movement: Movement, delta: int) -> None:
    assert movement.delta == delta


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": K.RECEIPT, "quantity": 0, "source": "donor"}, "positive"),
        ({"kind": K.RECEIPT, "quantity": -5, "source": "donor"}, "positive"),
        ({"kind": K.RECEIPT, "quantity": 5}, "source"),
        ({"kind": K.RECEIPT, "quantity": 5, "source": "  "}, "source"),
        ({"kind": K.TRANSFER_IN, "quantity": 0, "counterpart": "ev-east"}, "positive"),
        ({"kind": K.TRANSFER_OUT, "quantity": -1, "counterpart": "ev-east"}, "positive"),
        ({"kind": K.TRANSFER_OUT, "quantity": 1}, "other venue"),
        ({"kind": K.ADJUSTMENT, "quantity": 0, "reason": "棚卸し"}, "change"),
        ({"kind": K.ADJUSTMENT, "quantity": -1}, "reason"),
        ({"kind": K.ADJUSTMENT, "quantity": -1, "reason": " "}, "reason"),
        ({"kind": K.HANDOUT, "quantity": 2}, "exactly one"),
        ({"kind": K.HANDOUT, "quantity": 0}, "exactly one"),
        ({"kind": K.RECEIPT, "quantity": 2.5, "source": "donor"}, "integer"),
        ({"kind": K.RECEIPT, "quantity": True, "source": "donor"}, "integer"),
        ({"kind": "gift", "quantity": 1}, "gift"),
        ({"kind": K.HANDOUT, "quantity": 1, "parcel_type": "vegan"}, "vegan"),
        ({"kind": K.HANDOUT, "quantity": 1, "event_id": ""}, "event id"),
    ],
)
def test_invalid_movements_are_rejected(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"event_id": EV, "parcel_type": P.STANDARD, **kwargs}
    with pytest.raises(InvalidMovement, match=message):
        Movement(**fields)  # type: ignore[arg-type]


def test_invalid_movement_is_a_value_error() -> None:
    assert issubclass(InvalidMovement, ValueError)


def test_codes_read_back_as_strings_are_normalised() -> None:
    movement = Movement(EV, "no_pork", "handout", 1)  # type: ignore[arg-type]
    assert movement.parcel_type is P.NO_PORK
    assert movement.kind is K.HANDOUT


def test_balance_lists_every_type_and_sums_by_type() -> None:
    movements = [
        Movement.receipt(EV, P.STANDARD, 10, "donor"),
        Movement.receipt(EV, P.NO_PORK, 4, "donor"),
        Movement.handout(EV, P.STANDARD),
        Movement.transfer_out(EV, P.NO_PORK, 1, "ev-east"),
        Movement.adjustment(EV, P.STANDARD, -2, "破損"),
    ]
    assert balance(movements) == {
        P.STANDARD: 7,
        P.NO_PORK: 3,
        P.ALLERGY_FRIENDLY: 0,
        P.INFANT: 0,
    }
    assert balance([]) == empty_balance()


def test_balance_refuses_a_ledger_that_goes_negative() -> None:
    with pytest.raises(OutOfStock):
        balance([Movement.handout(EV, P.STANDARD), Movement.receipt(EV, P.STANDARD, 5, "d")])


def test_balance_is_per_event() -> None:
    with pytest.raises(ValueError, match="per event"):
        balance(
            [Movement.receipt(EV, P.STANDARD, 1, "d"), Movement.receipt("other", P.INFANT, 1, "d")]
        )


@pytest.mark.parametrize(
    ("start", "movement", "expected"),
    [
        (0, Movement.receipt(EV, P.INFANT, 3, "donor"), 3),
        (1, Movement.handout(EV, P.INFANT), 0),
        (5, Movement.transfer_out(EV, P.INFANT, 5, "ev-east"), 0),
        (2, Movement.adjustment(EV, P.INFANT, -2, "期限切れ"), 0),
    ],
)
def test_apply_returns_new_balance_without_mutating(
    start: int, movement: Movement, expected: int
) -> None:
    before = {**empty_balance(), P.INFANT: start, P.STANDARD: 9}
    after = apply(before, movement)
    assert after[P.INFANT] == expected
    assert after[P.STANDARD] == 9
    assert before[P.INFANT] == start


@pytest.mark.parametrize(
    ("start", "movement"),
    [
        (0, Movement.handout(EV, P.NO_PORK)),
        (2, Movement.transfer_out(EV, P.NO_PORK, 3, "ev-east")),
        (1, Movement.adjustment(EV, P.NO_PORK, -2, "破損")),
    ],
)
def test_apply_raises_out_of_stock_with_what_remains(start: int, movement: Movement) -> None:
    with pytest.raises(OutOfStock) as excinfo:
        apply({P.NO_PORK: start}, movement)
    assert excinfo.value.parcel_type is P.NO_PORK
    assert excinfo.value.remaining == start


def test_apply_treats_a_missing_type_as_zero() -> None:
    with pytest.raises(OutOfStock):
        apply({}, Movement.handout(EV, P.STANDARD))
    assert apply({}, Movement.receipt(EV, P.STANDARD, 1, "d")) == {P.STANDARD: 1}


@pytest.mark.parametrize(
    ("before", "after", "threshold", "fires"),
    [
        (10, 9, 10, True),  # at threshold, dropping below
        (11, 9, 10, True),
        (50, 0, 10, True),  # a big transfer out jumps straight past
        (9, 8, 10, False),  # already low: no second alert
        (9, 12, 10, False),  # recovering is not a crossing
        (10, 10, 10, False),  # at threshold is not low
        (11, 10, 10, False),
        (0, 0, 0, False),  # threshold zero never fires: balances are never negative
        (1, 0, 1, True),
    ],
)
def test_low_stock_crossings(before: int, after: int, threshold: int, fires: bool) -> None:
    assert low_stock_crossings(before, after, threshold) is fires


def test_going_back_above_then_below_is_a_new_crossing() -> None:
    path = [12, 10, 9, 8, 10, 11, 9, 7, 10, 9]
    fired = [low_stock_crossings(a, b, 10) for a, b in itertools.pairwise(path)]
    assert fired == [False, True, False, False, False, True, False, False, True]
