"""One multi-row upsert per table, each row carrying its own ops (ADR 26).

Used by the consumers that fold a batch's events in memory (``report_facts``, ``read_model``):
``INSERT … SELECT … FROM unnest(…) ORDER BY key ON CONFLICT (key) DO UPDATE``. The rows are
inserted (or found) in key order, which is the lock order; on conflict each column follows its
row's op (``domain.fact_changes``: ``s`` set, ``f`` fill if empty, else keep).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Table, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.domain.fact_changes import FIRST, SET


@dataclass(frozen=True)
class Upsert:
    """One multi-row upsert of a table; the op of a row's column is the character at the
    column's position in ``updatable`` of the row's op string."""

    statement: TextClause
    key: str
    columns: dict[str, str]
    updatable: tuple[str, ...]


def upsert_statement(
    table: Table, key: str, columns: dict[str, str], updatable: tuple[str, ...], returning: str
) -> Upsert:
    """``columns``: name → PostgreSQL type of every column written, the key first. Built once
    at import from the names given by the caller (the table's own columns), never from input."""
    assert set(columns) <= set(table.c.keys()) and set(updatable) <= set(columns), table.name
    names = ", ".join(columns)
    arrays = ", ".join(
        f"CAST(:{name} AS {'text' if kind == 'jsonb' else kind}[])"
        for name, kind in columns.items()
    )
    chosen = ", ".join(
        f"CAST({name} AS jsonb)" if kind == "jsonb" else name for name, kind in columns.items()
    )
    ops = f"(SELECT v._ops FROM v WHERE v.{key} = excluded.{key})"  # noqa: S608
    sets = ", ".join(
        f"{name} = CASE substr({ops}, {position}, 1) WHEN '{SET}' THEN excluded.{name} "
        f"WHEN '{FIRST}' THEN coalesce(t.{name}, excluded.{name}) ELSE t.{name} END"
        for position, name in enumerate(updatable, start=1)
    )
    sql = (
        f"WITH v AS (SELECT * FROM unnest({arrays}, CAST(:_ops AS text[])) AS v({names}, _ops)) "  # noqa: S608
        f"INSERT INTO {table.fullname} AS t ({names}) SELECT {chosen} FROM v ORDER BY {key} "
        f"ON CONFLICT ({key}) DO UPDATE SET {sets} RETURNING {returning}"
    )
    return Upsert(text(sql), key, columns, updatable)


def _json(value: Any) -> str | None:
    """A JSON column's value; ``None`` is SQL NULL (every reader takes it as "not told")."""
    return None if value is None else orjson.dumps(value).decode()


async def upsert_rows(
    session: AsyncSession,
    upsert: Upsert,
    rows: Mapping[str, Mapping[str, Any]],
    ops: Mapping[str, Mapping[str, str]],
) -> list[Any]:
    """Write ``rows`` (key → every column but the key) with their ``ops``, in key order."""
    ordered = sorted(rows)
    params: dict[str, list[Any]] = {upsert.key: ordered}
    for name, kind in upsert.columns.items():
        if name != upsert.key:
            values = [rows[key][name] for key in ordered]
            params[name] = [_json(v) for v in values] if kind == "jsonb" else values
    params["_ops"] = ["".join(ops[key].get(c, "-") for c in upsert.updatable) for key in ordered]
    return list(await session.execute(upsert.statement, params))
