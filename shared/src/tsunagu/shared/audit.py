"""The audit log every service keeps: who looked at or changed what, and when.

Entries are appended in the caller's transaction (the view and its record go together) and
never updated or deleted by the services. To make tampering visible, the log is a **hash
chain**: `chain` gives each committed entry, in the order it is chained, the hash of the entry
before it and a hash over its own content and that previous hash (SHA-256 over canonical
JSON). `verify` recomputes the chain: an entry changed, deleted or slipped in afterwards breaks
it from that point on.

Entries are chained after they commit, by `chain`, not while they are written: chaining inside
every request would serialise every audited read of the service behind one lock. Each service
runs an `AuditChainer` (a background job), so an entry is chained within a bounded time
(``TSUNAGU_AUDIT_CHAIN_SECONDS``) even if nobody reads the log; it also chains before answering
an auditor (search or verify). ADRs 13 and 18 explain the choice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Insert,
    MetaData,
    String,
    Table,
    cast,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.shared.logs import get_logger
from tsunagu.shared.periodic import PeriodicJob

log = get_logger(__name__)

__all__ = [
    "GENESIS",
    "AuditChainer",
    "Broken",
    "audit_table",
    "chain",
    "chain_all",
    "check",
    "create_audit_log",
    "entry_hash",
    "record",
    "search",
    "verify",
]

#: The "previous hash" of the first entry.
GENESIS = "0" * 64

_JSON = JSON().with_variant(JSONB(), "postgresql")


def audit_table(metadata: MetaData) -> Table:
    """The ``audit_log`` table: the same shape in every service."""
    return Table(
        "audit_log",
        metadata,
        Column("audit_id", BigInteger, Identity(always=True), primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("actor", String(64), nullable=False),
        Column("action", String(64), nullable=False),
        Column("case_id", String(64), index=True),
        #: What was acted on besides a case (a username, an event id); never personal data.
        Column("target", String(64)),
        #: Field names, codes and case ids only, never the values residents gave.
        Column("detail", _JSON, nullable=False),
        #: Position in the hash chain, the previous entry's hash and this entry's (set by
        #: `chain` once the entry is committed).
        Column("chain_seq", BigInteger, unique=True),
        Column("prev_hash", String(64)),
        Column("hash", String(64)),
        Index("ix_audit_log_unchained", "audit_id", postgresql_where=text("hash IS NULL")),
    )


async def record(
    session: AsyncSession,
    table: Table,
    actor: str,
    action: str,
    *,
    case_id: str | None = None,
    target: str | None = None,
    **detail: Any,
) -> None:
    """Append one entry inside the caller's transaction.

    ``detail`` holds codes, field names and ids only, e.g. ``case_ids=[...]``.
    """
    await session.execute(entry(table, actor, action, case_id=case_id, target=target, **detail))


def entry(
    table: Table,
    actor: str,
    action: str,
    *,
    case_id: str | None = None,
    target: str | None = None,
    **detail: Any,
) -> Insert:
    """The insert of one entry, for a caller that sends it together with its own statements
    (e.g. as a CTE of one statement, ``record``'s effect without a round trip of its own)."""
    return table.insert().values(
        actor=actor, action=action, case_id=case_id, target=target, detail=detail
    )


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 of the previous hash and the entry's content (canonical JSON)."""
    at = entry["at"]
    content = {
        "audit_id": entry["audit_id"],
        "at": at.isoformat() if isinstance(at, datetime) else str(at),
        "actor": entry["actor"],
        "action": entry["action"],
        "case_id": entry["case_id"],
        "target": entry["target"],
        "detail": entry["detail"],
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


_CONTENT = ("audit_id", "at", "actor", "action", "case_id", "target", "detail")


async def chain(session: AsyncSession, table: Table, *, batch: int = 1000) -> int:
    """Chain every committed entry not chained yet, oldest first; returns how many.

    Runs in its own short transaction (the caller's ``session``); a transaction-scoped
    advisory lock keeps two chainers (replicas) from forking the chain.
    """
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"{table.schema}.{table.name}")))
    )
    last = (
        await session.execute(
            select(table.c.chain_seq, table.c.hash)
            .where(table.c.chain_seq.is_not(None))
            .order_by(table.c.chain_seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev = (0, GENESIS) if last is None else (int(last.chain_seq), str(last.hash))
    rows = (
        await session.execute(
            select(*(table.c[c] for c in _CONTENT))
            .where(table.c.hash.is_(None))
            .order_by(table.c.audit_id)
            .limit(batch)
        )
    ).all()
    for row in rows:
        seq += 1
        digest = entry_hash(prev, dict(row._mapping))
        await session.execute(
            update(table)
            .where(table.c.audit_id == row.audit_id)
            .values(chain_seq=seq, prev_hash=prev, hash=digest)
        )
        prev = digest
    return len(rows)


async def chain_all(
    sessions: async_sessionmaker[AsyncSession], table: Table, *, batch: int = 1000
) -> int:
    """Chain everything committed and not chained yet, ``batch`` entries per short
    transaction (a lock is never held for the whole backlog); returns how many."""
    total = 0
    while True:
        async with sessions() as session, session.begin():
            count = await chain(session, table, batch=batch)
        total += count
        if count < batch:
            return total


class AuditChainer(PeriodicJob):
    """A background job (``tsunagu.shared.periodic``): chains the service's audit log every
    ``period`` seconds, so that no entry stays unchained longer than about one period,
    whether or not an auditor searches. A failed round (the database away) is logged and
    tried again next period; the entries wait, unchained but kept."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], table: Table, period: float
    ) -> None:
        super().__init__("audit-chainer", period=period)
        self.sessions = sessions
        self.table = table

    async def run_once(self) -> int:
        chained = await chain_all(self.sessions, self.table)
        if chained:
            log.debug("audit_chained", entries=chained)
        return chained


@dataclass(frozen=True)
class Broken:
    """Where the chain breaks: the entry (by chain position) and why."""

    chain_seq: int
    audit_id: int | None
    why: str


async def verify(session: AsyncSession, table: Table) -> list[Broken]:
    """Recompute the chain; every place it breaks (empty: intact)."""
    rows = (
        await session.execute(
            select(
                *(table.c[c] for c in _CONTENT), table.c.chain_seq, table.c.prev_hash, table.c.hash
            )
            .where(table.c.chain_seq.is_not(None))
            .order_by(table.c.chain_seq)
        )
    ).all()
    return check(rows)


def check(rows: Sequence[Any]) -> list[Broken]:
    """The pure part of `verify`: rows in chain order, each with its content and hashes."""
    broken: list[Broken] = []
    prev = GENESIS
    expected_seq = 1
    for row in rows:
        entry = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
        if entry["chain_seq"] != expected_seq:
            broken.append(Broken(expected_seq, None, "an entry is missing"))
            expected_seq = entry["chain_seq"]
        if entry["prev_hash"] != prev:
            broken.append(
                Broken(entry["chain_seq"], entry["audit_id"], "previous hash does not match")
            )
        if entry_hash(entry["prev_hash"], entry) != entry["hash"]:
            broken.append(Broken(entry["chain_seq"], entry["audit_id"], "content changed"))
        prev = entry["hash"]
        expected_seq += 1
    return broken


def create_audit_log(schema: str) -> None:
    """The migration step that creates `audit_table` in a service's schema (alembic ``op``)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64)),
        sa.Column("target", sa.String(64)),
        sa.Column("detail", JSONB(), nullable=False),
        sa.Column("chain_seq", sa.BigInteger()),
        sa.Column("prev_hash", sa.String(64)),
        sa.Column("hash", sa.String(64)),
        sa.PrimaryKeyConstraint("audit_id", name="pk_audit_log"),
        sa.UniqueConstraint("chain_seq", name="uq_audit_log_chain_seq"),
        schema=schema,
    )
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"], schema=schema)
    op.create_index(
        "ix_audit_log_unchained",
        "audit_log",
        ["audit_id"],
        schema=schema,
        postgresql_where=sa.text("hash IS NULL"),
    )


#: The columns an auditor's search returns.
FIELDS = ("audit_id", "at", "actor", "action", "case_id", "target", "detail", "hash")


async def search(
    session: AsyncSession,
    table: Table,
    *,
    case_ids: Sequence[str] = (),
    username: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Entries, newest first. Given case ids, an entry matches if it is about one of them or
    names it among the cases a view showed (``detail.case_ids``)."""
    query = select(*(table.c[f] for f in FIELDS)).order_by(table.c.audit_id.desc()).limit(limit)
    if case_ids:
        detail = cast(table.c.detail, JSONB)
        query = query.where(
            or_(
                table.c.case_id.in_(list(case_ids)),
                *(detail.contains({"case_ids": [x]}) for x in case_ids),
            )
        )
    if username is not None:
        query = query.where(table.c.actor == username)
    if since is not None:
        query = query.where(table.c.at >= since)
    if until is not None:
        query = query.where(table.c.at < until)
    if action is not None:
        query = query.where(table.c.action == action)
    return [dict(row._mapping) for row in await session.execute(query)]
