"""What events do to a report fact row, folded so that a batch writes each row once.

Each event makes a ``Change`` per row it touches: the row it would insert if the row were not
there yet (``insert``, every column), and what it does to a row that is there (``ops``: per
column, ``SET`` the value or keep the ``FIRST`` one, i.e. set it only while it is empty).
Columns without an op keep their value. ``then(a, b)`` is the one change that has the effect of
``a`` followed by ``b``, so a batch's events about a row become one upsert of that row, with the
same result as one statement per event in the batch's order. No I/O.

Invariant: for every column with an op, the op's value is ``insert[column]`` (the write then
needs one value per column: on insert it is the value, on conflict the op uses it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SET = "s"
FIRST = "f"


class NotFoldable(Exception):
    """Two changes whose sequence one upsert cannot express (the batch is then applied one
    event at a time instead)."""


@dataclass(frozen=True)
class Change:
    insert: Mapping[str, Any]
    ops: Mapping[str, str]

    @classmethod
    def of(
        cls,
        defaults: Mapping[str, Any],
        *,
        keep: Mapping[str, Any] | None = None,
        set_: Mapping[str, Any] | None = None,
        first: Mapping[str, Any] | None = None,
    ) -> Change:
        """A change that inserts ``defaults`` updated with every value given, and on an
        existing row sets ``set_``, fills ``first`` where empty and leaves ``keep`` alone."""
        set_, first = dict(set_ or {}), dict(first or {})
        insert = {**defaults, **(keep or {}), **first, **set_}
        ops = {column: FIRST for column in first} | {column: SET for column in set_}
        return cls(insert, ops)


def then(a: Change, b: Change) -> Change:
    """The change that does ``a`` and then ``b`` to the same row."""
    insert = dict(a.insert)
    ops = dict(a.ops)
    for column, op in b.ops.items():
        value = b.insert[column]
        if op == SET:
            insert[column], ops[column] = value, SET
        elif column in a.ops:
            # set or first, then first: the earlier value if there was one
            if insert[column] is None:
                insert[column] = value
        elif insert.get(column) is None:
            insert[column], ops[column] = value, FIRST
        else:
            # ``a`` inserted a value it does not set on an existing row; ``b`` fills the column
            # only where empty: an existing row and a new one would need different values.
            raise NotFoldable(column)
    return Change(insert, ops)


def fold(changes: dict[str, Change], key: str, change: Change) -> None:
    """Add ``change`` of the row ``key`` to a batch's ``changes``."""
    earlier = changes.get(key)
    changes[key] = change if earlier is None else then(earlier, change)
