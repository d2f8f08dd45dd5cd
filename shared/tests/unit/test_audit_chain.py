"""The audit hash chain: intact as written; any change, removal or insertion shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tsunagu.shared.audit import GENESIS, check, entry_hash

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def chained(n: int) -> list[dict[str, Any]]:
    rows, prev = [], GENESIS
    for i in range(1, n + 1):
        row = {
            "audit_id": i * 10,
            "at": T0 + timedelta(seconds=i),
            "actor": f"staff{i}",
            "action": "case.view",
            "case_id": f"case-{i}",
            "target": None,
            "detail": {"case_ids": [f"case-{i}"], "view": "full"},
            "chain_seq": i,
            "prev_hash": prev,
        }
        row["hash"] = entry_hash(prev, row)
        prev = row["hash"]
        rows.append(row)
    return rows


def test_an_untouched_chain_is_intact() -> None:
    assert check(chained(5)) == []


def test_a_changed_entry_is_found() -> None:
    rows = chained(5)
    rows[2]["detail"] = {"case_ids": ["case-3", "case-99"], "view": "full"}
    assert [(b.audit_id, b.why) for b in check(rows)] == [(30, "content changed")]


def test_a_removed_entry_breaks_the_chain_where_it_was() -> None:
    rows = chained(5)
    del rows[1]
    broken = check(rows)
    assert broken[0].why == "an entry is missing" and broken[0].chain_seq == 2
    assert any(b.audit_id == 30 and b.why == "previous hash does not match" for b in broken)


def test_a_recomputed_entry_still_breaks_its_successor() -> None:
    """Whoever rewrites an entry and its own hash must rewrite every later one too."""
    rows = chained(4)
    rows[1]["actor"] = "someone_else"
    rows[1]["hash"] = entry_hash(rows[1]["prev_hash"], rows[1])
    assert [(b.audit_id, b.why) for b in check(rows)] == [(30, "previous hash does not match")]
