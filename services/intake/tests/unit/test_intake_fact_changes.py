"""Folding a batch's events about one fact row into one change gives what applying them one
after the other would (``domain.fact_changes``)."""

from __future__ import annotations

from typing import Any

import pytest

from tsunagu.intake.domain.fact_changes import Change, NotFoldable, fold, then

DEFAULTS = {"status": None, "routed_at": None, "accepted_at": None, "escalated": False}


def applied(row: dict[str, Any] | None, change: Change) -> dict[str, Any]:
    """What one upsert of ``change`` makes of ``row`` (None: the row is not there yet)."""
    if row is None:
        return dict(change.insert)
    result = dict(row)
    for column, op in change.ops.items():
        value = change.insert[column]
        result[column] = value if op == "s" else (row[column] if row[column] is not None else value)
    return result


ROUTED = Change.of(DEFAULTS, keep={"status": "pending"}, set_={"routed_at": 1})
ACCEPTED = Change.of(DEFAULTS, set_={"status": "accepted"}, first={"accepted_at": 2})
ACCEPTED_AGAIN = Change.of(DEFAULTS, set_={"status": "accepted"}, first={"accepted_at": 5})
CLOSED = Change.of(DEFAULTS, set_={"status": "closed"})
ESCALATED = Change.of(DEFAULTS, keep={"status": "pending"}, set_={"escalated": True})
REROUTED = Change.of(DEFAULTS, set_={"status": "pending"}, first={"routed_at": 3})
EVENTS = [ROUTED, ACCEPTED, ACCEPTED_AGAIN, CLOSED, ESCALATED, REROUTED]
EXISTING = [
    None,
    {"status": "declined", "routed_at": None, "accepted_at": None, "escalated": False},
    {"status": "accepted", "routed_at": 0, "accepted_at": 0, "escalated": True},
]


@pytest.mark.parametrize("row", EXISTING)
@pytest.mark.parametrize(
    "sequence",
    [[a, b, c] for a in EVENTS for b in EVENTS for c in EVENTS],
)
def test_one_folded_change_does_what_the_sequence_does(
    row: dict[str, Any] | None, sequence: list[Change]
) -> None:
    one_by_one = row
    for change in sequence:
        one_by_one = applied(one_by_one, change)
    changes: dict[str, Change] = {}
    for change in sequence:
        fold(changes, "r1", change)
    assert applied(row, changes["r1"]) == one_by_one


def test_the_first_acceptance_is_kept_and_a_later_status_wins() -> None:
    folded = then(then(ACCEPTED, ACCEPTED_AGAIN), CLOSED)
    assert applied(None, folded)["accepted_at"] == 2
    assert applied(None, folded)["status"] == "closed"
    existing = {"status": "pending", "routed_at": 0, "accepted_at": None, "escalated": False}
    assert applied(existing, folded) == {**existing, "status": "closed", "accepted_at": 2}


def test_a_sequence_one_upsert_cannot_express_is_refused() -> None:
    # An insert-only value, then "fill if empty": a new row and an existing one would differ.
    inserted = Change.of(DEFAULTS, keep={"routed_at": 1})
    with pytest.raises(NotFoldable):
        then(inserted, REROUTED)
