"""Idempotency-Key storage: one semantics for every service that takes the header.

A key belongs to the staff member who sent it: ``(staff, key)`` holds the hash of the request
and, once the request is done, its outcome. Inside the request's transaction:

1. ``claim`` the key. The first request gets ``None`` and goes on; its row stays locked until
   its transaction ends, so a concurrent retry with the same key waits on it (PostgreSQL's
   ``ON CONFLICT`` blocks) and then reads what the first one recorded.
2. ``record`` the outcome (what a retry must get back: a created case's id, a handout, a
   refusal) before the transaction commits.

A retry with the same key and the same request gets the stored outcome; the same key with a
different request raises `KeyReused`, which each service answers in its own error shape
(always a client error: the key was misused, nothing was done). A request that fails rolls the
claim back with everything else, so a retry after a failure starts afresh.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Executable,
    MetaData,
    String,
    Table,
    Update,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

KEY_LENGTH = 255


class KeyReused(Exception):
    """The key was already used, by the same staff member, for a different request."""


def idempotency_key_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_key",
        metadata,
        Column("staff", String(64), primary_key=True),
        Column("key", String(KEY_LENGTH), primary_key=True),
        #: sha256 of the canonical request (`request_hash`): a retry must match it.
        Column("request_hash", String(64), nullable=False),
        #: What a retry gets back; set in the claiming transaction.
        Column("outcome", JSONB),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def request_hash(request: Any) -> str:
    """The hash a key is bound to: sha256 of the request as canonical JSON (sorted keys)."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession,
    table: Table,
    *,
    staff: str,
    key: str,
    request: str,
    outcome: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Claim ``key`` for this request (``request`` is its `request_hash`): ``None`` when it is
    ours to carry out, else the outcome stored by the request that claimed it first.

    ``outcome`` may be given at once when the request's outcome needs nothing more (a form
    applied once). Raises `KeyReused` if the key was claimed for another request."""
    claiming, stored = _statements(table)
    claimed = await session.execute(
        claiming, {"staff": staff, "key": key, "request_hash": request, "outcome": outcome}
    )
    if claimed.first() is not None:
        return None
    row = (await session.execute(stored, {"staff": staff, "key": key})).one()
    if row.request_hash != request:
        raise KeyReused(key)
    return dict(row.outcome or {})


@cache
def _statements(table: Table) -> tuple[Executable, Executable]:
    """``claim``'s two statements, built once per table and then taken from SQLAlchemy's
    compiled cache (ADR 22)."""
    claiming = insert(table).on_conflict_do_nothing().returning(table.c.key)
    stored = select(table.c.request_hash, table.c.outcome).where(
        table.c.staff == bindparam("staff"), table.c.key == bindparam("key")
    )
    return claiming, stored


async def record(
    session: AsyncSession, table: Table, *, staff: str, key: str, outcome: dict[str, Any]
) -> None:
    """Store the outcome of the request that claimed ``key`` (in the same transaction)."""
    await session.execute(recording(table, staff=staff, key=key, outcome=outcome))


def recording(table: Table, *, staff: str, key: str, outcome: dict[str, Any]) -> Update:
    """``record``'s statement, for a caller that sends it with its own (one round trip)."""
    return table.update().where(table.c.staff == staff, table.c.key == key).values(outcome=outcome)


async def stored(
    session: AsyncSession, table: Table, *, staff: str, key: str
) -> dict[str, Any] | None:
    """The outcome stored under ``key``, if it was used (without claiming it)."""
    found = await session.scalar(
        select(table.c.outcome).where(table.c.staff == staff, table.c.key == key)
    )
    return None if found is None else dict(found)


async def forget(session: AsyncSession, table: Table, where: ColumnElement[bool]) -> int:
    """Delete the keys whose outcome matches ``where`` (e.g. an erased resident's cases)."""
    done = await session.execute(delete(table).where(where))
    return int(getattr(done, "rowcount", 0) or 0)
