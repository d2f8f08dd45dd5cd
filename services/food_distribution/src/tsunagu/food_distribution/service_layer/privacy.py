"""A resident's erasure, consent withdrawal and disclosure, as far as the food desk is
concerned (ADR 12, 13); routing forwards the erasure and tells the withdrawal on
``routing.food.v1`` (ADR 24).

On ``resident_erased`` the case's parked events are dropped, its sealed furigana and a manual grant's free-text reason are
emptied and the case's tombstone is kept. Eligibility and handouts stay, with their household
and event ids and parcel types: the counts per event and parcel type, and the stock ledger.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.food_distribution.service_layer.kana import open_kanas
from tsunagu.shared.contracts import intake, routing
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.crypto import Sealer
from tsunagu.shared.parking import park, take_parked
from tsunagu.shared.runtime import record_erasure

ERASED_REASON = "（消去済み）"


async def on_resident_erased(session: AsyncSession, envelope: Envelope) -> None:
    erased = parse(envelope, intake.ResidentErased)
    case_id = erased.case_id
    if not await record_erasure(session, tables, case_id, erased.resident_id, erased.erased_at):
        return
    t = tables
    await take_parked(session, t.parked_event, case_id)  # taken and dropped, never applied
    await session.execute(
        update(t.case_index).where(t.case_index.c.case_id == case_id).values(kana_sealed=None)
    )
    await session.execute(
        update(t.eligibility)
        .where(t.eligibility.c.case_id == case_id, t.eligibility.c.basis == "manual")
        .values(reason=ERASED_REASON)
    )


async def on_consent_withdrawn(session: AsyncSession, envelope: Envelope) -> None:
    """A withdrawal, as routing tells it (``food_consent_withdrawn``): food keeps only what a
    handout already recorded (ADR 13).

    The sealed furigana goes (the desk can no longer find or name the household) and so does
    an eligibility no handout used; handouts, and the eligibility they were given on, stay for
    the counts and the ledger. When it was made is kept: a decision of routing's made before
    it (a replay arriving late) grants nothing, a later one does. A later consent does not
    bring the furigana back (it came only with the case). Routing's topic is ordered per case,
    but a withdrawal may still come before its case (the case's event was dead-lettered and is
    replayed later): it is parked and applied when the case arrives.
    """
    withdrawn = parse(envelope, routing.FoodConsentWithdrawn)
    t = tables
    case_id = withdrawn.case_id
    changed = await session.execute(
        update(t.case_index)
        .where(t.case_index.c.case_id == case_id)
        .values(
            kana_sealed=None,
            withdrawn_at=func.greatest(
                func.coalesce(t.case_index.c.withdrawn_at, envelope.occurred_at),
                envelope.occurred_at,
            ),
        )
        .returning(t.case_index.c.case_id)
    )
    if changed.first() is None:
        await park(session, t.parked_event, envelope, case_id)
        return
    handed = exists().where(t.handout.c.case_id == case_id)
    await session.execute(delete(t.eligibility).where(t.eligibility.c.case_id == case_id, ~handed))


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(x._mapping) for x in result]


async def disclose(session: AsyncSession, resident_id: str, case_ids: list[str]) -> dict[str, Any]:
    """What the desk holds on the resident's cases, the furigana still sealed (``reveal``
    opens it once the session is closed)."""
    t = tables
    return {
        "case_index": _rows(
            await session.execute(select(t.case_index).where(t.case_index.c.case_id.in_(case_ids)))
        ),
        "eligibility": _rows(
            await session.execute(
                select(t.eligibility).where(t.eligibility.c.case_id.in_(case_ids))
            )
        ),
        "handouts": _rows(
            await session.execute(
                select(t.handout)
                .where(t.handout.c.case_id.in_(case_ids))
                .order_by(t.handout.c.handed_out_at)
            )
        ),
    }


async def reveal(sealer: Sealer, held: dict[str, Any]) -> dict[str, Any]:
    """The disclosure with the furigana opened; asks intake for the key, with no transaction
    open."""
    index = held["case_index"]
    kanas = await open_kanas(sealer, [row.get("kana_sealed") for row in index])
    opened = [
        {**{k: v for k, v in row.items() if k != "kana_sealed"}, "name_kana": name_kana}
        for row, name_kana in zip(index, kanas, strict=True)
    ]
    return {**held, "case_index": opened}
