"""Erasing a resident (利用停止・消去請求, or the end of retention), ADR 12.

In one transaction: the resident's data key is destroyed (so every sealed copy anywhere, Kafka's
log included, can no longer be opened), intake's own rows are emptied of personal data, each
case gets a tombstone (a replayed event recreates nothing), and ``resident_erased`` goes to every
service through the outbox. What counts need stays: the cases with their event, concerns,
programmes and dates, the household and resident ids (random, naming no one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.service_layer import audit, case_locks, report_facts
from tsunagu.intake.service_layer.cases import Ports
from tsunagu.intake.service_layer.contact_topic import publish_case_event
from tsunagu.intake.service_layer.errors import Invalid, NotFound
from tsunagu.shared import idempotency
from tsunagu.shared.contracts import intake as contract
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.runtime import record_erasure

Basis = Literal["request", "retention"]


@dataclass(frozen=True)
class Erased:
    resident_id: str
    cases: int
    erased_at: datetime
    already: bool = False


async def erase_resident(
    session: AsyncSession,
    ports: Ports,
    resident_id: str,
    *,
    erased_by: str,
    basis: Basis,
    reason: str,
) -> Erased:
    reason = reason.strip()
    if not reason:
        raise Invalid("reason", "消去の理由を入力してください")
    if len(reason) > 500:
        raise Invalid("reason", "消去の理由は500文字以内で入力してください")
    r, c = tables.resident, tables.case
    row = (
        await session.execute(
            select(r.c.resident_id, r.c.erased_at)
            .where(r.c.resident_id == resident_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound(resident_id)
    case_ids = list(
        await session.scalars(select(c.c.case_id).where(c.c.resident_id == resident_id))
    )
    if row.erased_at is not None:
        return Erased(resident_id, len(case_ids), row.erased_at, already=True)
    # The cases' locks (alone) before any of their rows: a batch of the read model or of the
    # report facts takes them (shared) before it looks for tombstones, then its rows. Taken in
    # that order on both sides, a batch that began before this commits waits here and then sees
    # the tombstones; one already holding them is waited for (ADR 26).
    await case_locks.lock_cases(session, case_ids, shared=False)
    now = utcnow()
    await ports.keys.destroy(session, resident_id)
    await session.execute(
        update(r)
        .where(r.c.resident_id == resident_id)
        .values(
            name="",
            name_kana="",
            kana_search_key="",
            birth_date=None,
            phone=None,
            phone_tail=None,
            email=None,
            address=None,
            erased_at=now,
            updated_at=now,
        )
    )
    if case_ids:
        # The rows are locked in key order first, the order intake's read model writes them
        # in (ADR 26), so that an erasure and a batch of routing's events about the same
        # cases wait for each other instead of deadlocking.
        f = tables.referral
        await session.execute(
            select(c.c.case_id).where(c.c.case_id.in_(case_ids)).order_by(c.c.case_id)
            .with_for_update()
        )  # fmt: skip
        await session.execute(
            select(f.c.referral_id).where(f.c.case_id.in_(case_ids)).order_by(f.c.referral_id)
            .with_for_update()
        )  # fmt: skip
        await session.execute(
            update(c)
            .where(c.c.case_id.in_(case_ids))
            .values(household_members=[], proxy=None, notes=None, updated_at=now)
        )
        await session.execute(
            update(f).where(f.c.case_id.in_(case_ids)).values(last_reason=None, last_outcome=None)
        )
        k = tables.idempotency_key
        await idempotency.forget(session, k, k.c.outcome["case_id"].astext.in_(case_ids))
    # Counts stay, unlinked (ADR 9); before the tombstones below, in this transaction, under
    # the cases' report locks, so no batch of facts brings an id back (ADR 26).
    await report_facts.forget_resident(session, resident_id, case_ids)
    for case_id in case_ids:
        await record_erasure(session, tables, case_id, resident_id, now)
        data = contract.ResidentErased(
            case_id=case_id, resident_id=resident_id, erased_at=now, basis=basis
        )
        envelope = ports.outbox.envelope(contract.RESIDENT_ERASED, data.model_dump(mode="json"))
        # With its twin for notify on intake.contact.v1 (ADR 25).
        await publish_case_event(session, ports.outbox, case_id, envelope)
    await session.execute(
        tables.erasure.insert().values(
            resident_id=resident_id,
            basis=basis,
            reason=reason,
            erased_by=erased_by,
            cases=len(case_ids),
            erased_at=now,
        )
    )
    await audit.record(
        session, erased_by, "resident.erase", target=resident_id, basis=basis, cases=len(case_ids)
    )
    return Erased(resident_id, len(case_ids), now)


async def due_for_retention(
    session: AsyncSession, retention_days: int, now: datetime | None = None, limit: int = 100
) -> list[str]:
    """Residents not erased whose last contact (their latest case) is older than the period."""
    r, c = tables.resident, tables.case
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    last = func.max(func.greatest(c.c.created_at, c.c.updated_at))
    rows = await session.execute(
        select(r.c.resident_id)
        .join(c, c.c.resident_id == r.c.resident_id)
        .where(r.c.erased_at.is_(None))
        .group_by(r.c.resident_id)
        .having(last < cutoff)
        .order_by(last)
        .limit(limit)
    )
    return list(rows.scalars())
