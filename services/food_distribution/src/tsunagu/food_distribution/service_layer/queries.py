"""What the desk and the API read: stock, handouts, a household's status, search, the report.

The furigana is sealed with each resident's key, which is asked of intake over HTTP (ADR 12).
So a search and a household's status are read with their furigana still sealed, in the
caller's short transaction, and opened afterwards with no transaction open (``search_hits``,
``with_kana``); the view is then audited in a transaction of its own (``audit_view``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.food_distribution.config import FoodConfig
from tsunagu.food_distribution.domain.handout import Handout, Refusal, check_handout
from tsunagu.food_distribution.domain.labels import PARCEL_TYPE_LABELS_JA
from tsunagu.food_distribution.domain.report import ConsultationEvent, event_report_csv
from tsunagu.food_distribution.domain.stock import Movement
from tsunagu.food_distribution.service_layer.cases import case_row
from tsunagu.food_distribution.service_layer.errors import (
    case_not_found,
    event_not_found,
    not_today,
)
from tsunagu.food_distribution.service_layer.handouts import (
    household_eligibility,
    previous_handouts,
)
from tsunagu.food_distribution.service_layer.kana import case_number_key, kana_key, open_kanas
from tsunagu.food_distribution.service_layer.stock import remaining
from tsunagu.shared import audit as chain_log
from tsunagu.shared.clock import japan_today
from tsunagu.shared.contracts.codes import ParcelType
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.crypto import Sealer

t = tables


async def event_row(session: AsyncSession, event_id: str) -> dict[str, Any]:
    row = (await session.execute(select(t.event).where(t.event.c.event_id == event_id))).first()
    if row is None:
        raise event_not_found(event_id)
    return dict(row._mapping)


async def events(session: AsyncSession, limit: int = 50) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(t.event.c.event_id, t.event.c.venue_id, t.event.c.venue_name, t.event.c.held_on)
        .order_by(t.event.c.held_on.desc(), t.event.c.event_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def stock_of(session: AsyncSession, config: FoodConfig, event_id: str) -> dict[str, Any]:
    event = await event_row(session, event_id)
    balance = await remaining(session, event_id)
    items = [
        {
            "parcel_type": p,
            "label": PARCEL_TYPE_LABELS_JA[p],
            "remaining": n,
            "threshold": config.threshold(p),
            "low": n < config.threshold(p),
        }
        for p, n in balance.items()
    ]
    return {
        "event_id": event_id,
        "venue_id": event["venue_id"],
        "venue_name": event["venue_name"],
        "held_on": event["held_on"],
        "items": items,
        "total": sum(balance.values()),
        "as_of": utcnow(),
    }


def _handout_query() -> Any:
    h, c = t.handout, t.case_index
    return (
        select(
            h.c.handout_id,
            h.c.case_id,
            c.c.case_number,
            h.c.household_id,
            h.c.event_id,
            h.c.parcel_type,
            h.c.handed_out_by,
            h.c.handed_out_at,
        )
        .join(c, c.c.case_id == h.c.case_id)
        .order_by(h.c.handed_out_at)
    )


async def handouts_of(session: AsyncSession, event_id: str) -> list[dict[str, Any]]:
    await event_row(session, event_id)
    rows = await session.execute(_handout_query().where(t.handout.c.event_id == event_id))
    return [dict(r._mapping) for r in rows]


async def household_status(
    session: AsyncSession, config: FoodConfig, case_id: str
) -> dict[str, Any]:
    """Eligibility, what the household already received, and whether it may receive now; the
    resident's furigana still sealed (``kana_sealed``): the desk opens it with ``with_kana``
    once the transaction has ended, the API shows none."""
    case = await case_row(session, case_id)
    if case is None:
        raise case_not_found(case_id)
    household_id, event_id = case["household_id"], case["event_id"]
    eligibility = await household_eligibility(session, case_id, household_id, event_id)
    granted_at = None
    if eligibility is not None:
        granted_at = (
            await session.execute(
                select(t.eligibility.c.granted_at).where(
                    t.eligibility.c.case_id == eligibility.case_id
                )
            )
        ).scalar_one()
    now = utcnow()
    policy = config.policy()
    previous = await previous_handouts(session, household_id, event_id, now, policy)
    # Whether the household may receive, whatever the stock: the desk shows stock per type.
    any_stock = dict.fromkeys(ParcelType, 1)
    checked = check_handout(
        policy, household_id, event_id, now, previous, eligibility, any_stock, ParcelType.STANDARD
    )
    refusal = None
    if isinstance(checked, Refusal):
        refusal = {
            "code": str(checked.code),
            "message": checked.message_ja,
            "message_en": checked.message_en,
            **checked.details,
        }
    received = await session.execute(
        _handout_query().where(t.handout.c.household_id == household_id).limit(50)
    )
    c = t.case_index
    members = await session.scalars(
        select(c.c.case_number)
        .where(c.c.household_id == household_id, c.c.event_id == event_id, c.c.case_id != case_id)
        .order_by(c.c.case_number)
    )
    return {
        "case_id": case_id,
        "case_number": case["case_number"],
        "household_id": household_id,
        "event_id": event_id,
        "kana_sealed": case["kana_sealed"],
        "eligible": eligibility is not None,
        "basis": str(eligibility.basis) if eligibility else None,
        # A manual grant's reason is the desk's own note; the concerns behind an economic
        # grant are not the desk's business.
        "reason": eligibility.reason if eligibility and eligibility.granted_by else None,
        "granted_by": eligibility.granted_by if eligibility else None,
        "granted_at": granted_at,
        "may_receive": refusal is None,
        "refusal": refusal,
        "received": [dict(r._mapping) for r in received],
        # Other cases of the household at this event (linked at the desk, or by intake).
        "members": list(members),
    }


async def with_kana(sealer: Sealer, status: dict[str, Any]) -> dict[str, Any]:
    """A household's status with its furigana opened (None if erased, or if intake cannot give
    the key now). Asks intake: call it with no transaction open."""
    [name_kana] = await open_kanas(sealer, [status.get("kana_sealed")])
    return {**{k: v for k, v in status.items() if k != "kana_sealed"}, "name_kana": name_kana}


@dataclass(frozen=True)
class Candidates:
    """What a search read: the households it may show, their furigana still sealed."""

    rows: list[dict[str, Any]]  # case_id, case_number, kana_sealed, eligible, served
    numbered: frozenset[str]  # the case ids whose number matches the query
    kana: str  # the query folded as furigana are for search


async def search_candidates(session: AsyncSession, event_id: str, query: str) -> Candidates:
    """Households at today's event by case number (exact or its tail) or furigana (prefix):
    the read of a search (``search_hits`` opens and matches the furigana afterwards).

    The desk sees only what it needs (ADR 13): the event must be held today (JST), and a
    household shows only if it is eligible, already received a parcel here, or is at the desk,
    that is, its resident gave the full case number. A tail of the number or the furigana never
    finds a household the desk has no business with.

    The furigana is kept sealed with each resident's key (ADR 12), so it cannot be searched in
    SQL: the candidates' furigana are opened (keys are cached) and matched in memory. An event
    has a few hundred cases at most.
    """
    await todays_event(session, event_id)
    number, kana = case_number_key(query), kana_key(query)
    if not number:
        return Candidates([], frozenset(), kana)
    c, e, h = t.case_index, t.eligibility, t.handout
    eligible = exists().where(e.c.household_id == c.c.household_id, e.c.event_id == c.c.event_id)
    served = (
        select(func.count())
        .where(h.c.household_id == c.c.household_id, h.c.event_id == c.c.event_id)
        .scalar_subquery()
    )
    columns = (
        c.c.case_id,
        c.c.case_number,
        c.c.kana_sealed,
        eligible.label("eligible"),
        served.label("served"),
    )
    at_desk = func.upper(c.c.case_number) == number
    by_number = or_(
        at_desk,
        func.upper(c.c.case_number).like("%" + _like(number), escape="\\"),
    )
    rows = [
        dict(r._mapping)
        for r in await session.execute(
            select(*columns)
            .where(c.c.event_id == event_id, or_(eligible, served > 0, at_desk))
            .order_by(c.c.case_number)
            .limit(2000)
        )
    ]
    numbered = frozenset(
        await session.scalars(select(c.c.case_id).where(c.c.event_id == event_id, by_number))
    )
    return Candidates(rows, numbered, kana)


async def search_hits(
    sealer: Sealer, candidates: Candidates, limit: int = 20
) -> list[dict[str, Any]]:
    """The households a search finds, with their furigana: the candidates' keys fetched from
    intake in one request and their furigana opened. Asks intake: call it with no
    transaction open."""
    kanas = await open_kanas(sealer, [r["kana_sealed"] for r in candidates.rows])
    return matching(candidates, kanas, limit)


def matching(
    candidates: Candidates, kanas: Sequence[str | None], limit: int = 20
) -> list[dict[str, Any]]:
    """The candidates found by their number or whose opened furigana (``kanas``, in the same
    order) starts with the query's, by furigana then number, at most ``limit``."""
    hits = []
    kana = candidates.kana
    for candidate, name_kana in zip(candidates.rows, kanas, strict=True):
        row = {k: v for k, v in candidate.items() if k != "kana_sealed"}
        row["name_kana"] = name_kana
        by_kana = bool(kana) and name_kana is not None and kana_key(name_kana).startswith(kana)
        if row["case_id"] in candidates.numbered or by_kana:
            hits.append(row)
    hits.sort(key=lambda r: (kana_key(r["name_kana"] or "") or "\uffff", r["case_number"]))
    return hits[:limit]


async def todays_event(session: AsyncSession, event_id: str) -> dict[str, Any]:
    """The event, if it is held today (JST): the desk searches only the event in front of it."""
    event = await event_row(session, event_id)
    if event["held_on"] != japan_today():
        raise not_today(event_id)
    return event


async def audit_view(
    session: AsyncSession, staff: str, action: str, case_ids: list[str], **detail: Any
) -> None:
    """Record who saw which cases at the desk, in the caller's transaction (ADR 13)."""
    await chain_log.record(
        session,
        t.audit_log,
        staff,
        action,
        case_id=case_ids[0] if len(case_ids) == 1 else None,
        case_ids=case_ids,
        **detail,
    )


async def report_csv(session: AsyncSession, event_id: str) -> str:
    event = await event_row(session, event_id)
    handouts = [
        Handout(r.household_id, r.event_id, ParcelType(r.parcel_type), r.handed_out_at,
                r.handed_out_by)
        for r in await session.execute(select(t.handout).where(t.handout.c.event_id == event_id))
    ]  # fmt: skip
    m = t.stock_movement
    movements = [
        Movement(
            r.event_id, r.parcel_type, r.kind, r.quantity,
            source=r.source, counterpart=r.counterpart, reason=r.reason,
        )
        for r in await session.execute(
            select(m).where(m.c.event_id == event_id).order_by(m.c.movement_id)
        )
    ]  # fmt: skip
    return event_report_csv(
        ConsultationEvent(event_id, event["venue_id"], event["held_on"]), handouts, movements
    )


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def ledger(session: AsyncSession, event_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """The event's stock changes other than handouts (receipts, transfers, corrections), newest
    first: what the desk lists beside its forms."""
    m = t.stock_movement
    rows = await session.execute(
        select(
            m.c.movement_id,
            m.c.parcel_type,
            m.c.kind,
            m.c.quantity,
            m.c.delta,
            m.c.balance_after,
            m.c.source,
            m.c.counterpart,
            m.c.reason,
            m.c.staff,
            m.c.created_at,
        )
        .where(m.c.event_id == event_id, m.c.kind != "handout")
        .order_by(m.c.movement_id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def latest_change(
    session: AsyncSession, event_id: str, parcel_type: str, staff: str
) -> int | None:
    """The newest non-handout ledger line the staff member wrote for (event, type): the one a
    desk form just made (its stock row is still locked by this transaction)."""
    m = t.stock_movement
    found = await session.execute(
        select(func.max(m.c.movement_id)).where(
            m.c.event_id == event_id,
            m.c.parcel_type == parcel_type,
            m.c.staff == staff,
            m.c.kind != "handout",
        )
    )
    value = found.scalar_one_or_none()
    return int(value) if value is not None else None
