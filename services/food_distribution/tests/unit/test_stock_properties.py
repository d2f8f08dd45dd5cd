"""Property tests: the ledger never goes negative and low-stock alerts fire once per crossing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsunagu.food_distribution.domain.stock import (
    Movement,
    OutOfStock,
    apply,
    empty_balance,
    low_stock_crossings,
)
from tsunagu.shared.contracts.codes import ParcelType

EV = "ev-1"
parcel_types = st.sampled_from(list(ParcelType))
counts = st.integers(min_value=1, max_value=30)

movements = st.one_of(
    st.builds(lambda t, n: Movement.receipt(EV, t, n, "donor"), parcel_types, counts),
    st.builds(lambda t, n: Movement.transfer_in(EV, t, n, "ev-2"), parcel_types, counts),
    st.builds(lambda t, n: Movement.transfer_out(EV, t, n, "ev-2"), parcel_types, counts),
    st.builds(
        lambda t, n: Movement.adjustment(EV, t, n, "棚卸し"),
        parcel_types,
        st.integers(min_value=-30, max_value=30).filter(bool),
    ),
    st.builds(lambda t: Movement.handout(EV, t), parcel_types),
)


@given(st.lists(movements, max_size=60))
def test_no_sequence_of_applies_yields_a_negative_balance(sequence: list[Movement]) -> None:
    current = empty_balance()
    for movement in sequence:
        before = current[movement.parcel_type]
        if before + movement.delta < 0:
            # Refused, naming what remains, and the balance is left as it was.
            with pytest.raises(OutOfStock) as refused:
                apply(current, movement)
            assert refused.value.remaining == before
            assert refused.value.parcel_type is movement.parcel_type
        else:
            current = apply(current, movement)
            assert current[movement.parcel_type] == before + movement.delta
        assert all(n >= 0 for n in current.values())


@given(st.lists(movements, max_size=60), st.integers(min_value=0, max_value=40))
def test_low_stock_fires_exactly_once_per_crossing(
    sequence: list[Movement], threshold: int
) -> None:
    current = empty_balance()
    # Per type: may an alert fire? Only after the balance has been at or above the threshold.
    armed = {t: current[t] >= threshold for t in ParcelType}
    for movement in sequence:
        kind = movement.parcel_type
        before = current[kind]
        try:
            current = apply(current, movement)
        except OutOfStock:
            continue
        after = current[kind]
        fired = low_stock_crossings(before, after, threshold)
        if fired:
            assert armed[kind], "fired twice without recovering above the threshold"
        # A drop below from an armed state must fire; staying low must not.
        assert fired == (armed[kind] and after < threshold)
        armed[kind] = after >= threshold


@given(
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=80),
    st.integers(min_value=0, max_value=50),
)
def test_crossings_on_any_path_equal_the_number_of_low_spells(
    path: list[int], threshold: int
) -> None:
    fired = sum(low_stock_crossings(a, b, threshold) for a, b in itertools.pairwise(path))
    # Counted independently: runs of low values, except one the path starts in (no crossing).
    runs = [low for low, _ in itertools.groupby(path, key=lambda n: n < threshold)]
    low_spells = runs.count(True) - (1 if runs[0] else 0)
    assert fired == low_spells
