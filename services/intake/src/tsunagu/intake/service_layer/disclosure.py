"""Disclosure (開示請求): everything every service holds on one resident, gathered by intake.

Intake reads its own rows, then asks routing, notify and food distribution for theirs through
their internal disclosure endpoints (authenticated as intake, ADR 12), given the resident's case
ids. The answer is recorded in the audit log (who took it, when; never its content).
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer.errors import NotFound
from tsunagu.intake.service_layer.keys import KeyStore, master_keys
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.crypto import PREFIX, ContactSealError, Purpose
from tsunagu.shared.internal import caller_headers
from tsunagu.shared.logs import get_logger
from tsunagu.shared.settings import Settings

log = get_logger(__name__)

#: Who else is asked, and under which heading the page shows their answer.
SERVICES: dict[str, str] = {
    "routing": "振り分け（routing）",
    "notify": "連絡（notify）",
    "food_distribution": "食料品配布（food distribution）",
}


def _plain(row: Any) -> dict[str, Any]:
    return {k: v for k, v in row._mapping.items()}


async def intake_part(session: AsyncSession, resident_id: str) -> tuple[dict[str, Any], list[str]]:
    r, c, f, e = tables.resident, tables.case, tables.referral, tables.food_eligibility
    resident = (
        await session.execute(
            select(r).where(r.c.resident_id == resident_id, r.c.erased_at.is_(None))
        )
    ).first()
    if resident is None:
        raise NotFound(resident_id)
    cases = [
        _plain(x)
        for x in await session.execute(
            select(c).where(c.c.resident_id == resident_id).order_by(c.c.created_at)
        )
    ]
    case_ids = [x["case_id"] for x in cases]
    referrals = [
        _plain(x)
        for x in await session.execute(
            select(f).where(f.c.case_id.in_(case_ids)).order_by(f.c.case_id, f.c.programme)
        )
    ]
    food = [_plain(x) for x in await session.execute(select(e).where(e.c.case_id.in_(case_ids)))]
    a = tables.audit_log
    trail = [
        _plain(x)
        for x in await session.execute(
            select(a.c.at, a.c.actor, a.c.action, a.c.case_id)
            .where(a.c.case_id.in_(case_ids))
            .order_by(a.c.audit_id)
        )
    ]
    person = _plain(resident)
    for hidden in ("kana_search_key", "phone_tail", "erased_at"):
        person.pop(hidden, None)
    return (
        {
            "resident": person,
            "cases": cases,
            "referrals": referrals,
            "food_eligibility": food,
            "access_log": trail,
        },
        case_ids,
    )


async def ask(settings: Settings, service: str, resident_id: str, case_ids: list[str]) -> Any:
    base = settings.internal_base(service)
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.get(
                f"{base}/internal/v1/disclosure",
                params={"resident_id": resident_id, "case_id": case_ids},
                headers=caller_headers(settings),
            )
    except httpx.HTTPError as exc:
        log.warning("disclosure_service_unreachable", service=service, error=type(exc).__name__)
        raise HTTPException(503, f"{service} に問い合わせできません。再度お試しください") from None
    if response.status_code != 200:
        log.warning("disclosure_service_refused", service=service, status=response.status_code)
        raise HTTPException(503, f"{service} に問い合わせできません。再度お試しください")
    return response.json()


async def gather(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    resident_id: str,
    actor: str,
    fmt: str,
) -> dict[str, Any]:
    async with sessions() as session, session.begin():
        own, case_ids = await intake_part(session, resident_id)
    others = {s: await ask(settings, s, resident_id, case_ids) for s in SERVICES}
    keys = KeyStore(master_keys(settings))
    async with sessions() as session, session.begin():
        # Staff's words on referrals are held sealed with the resident's record key (intake's
        # read model, routing): the resident is shown what they say.
        own = await _opened(session, keys, resident_id, own)
        others = await _opened(session, keys, resident_id, others)
        await audit.record(
            session, actor, "resident.disclosure", target=resident_id, format=fmt,
            cases=len(case_ids),
        )  # fmt: skip
    return {
        "resident_id": resident_id,
        "taken_at": utcnow(),
        "taken_by": actor,
        "services": {"intake": own, **others},
        "headings": {"intake": "受付（intake）", **SERVICES},
    }


async def _opened(session: AsyncSession, keys: KeyStore, resident_id: str, value: Any) -> Any:
    """``value`` with this resident's ``record``-sealed strings opened (other purposes are the
    holding service's to open, and it does so in its own answer)."""
    if isinstance(value, dict):
        return {k: await _opened(session, keys, resident_id, v) for k, v in value.items()}
    if isinstance(value, list):
        return [await _opened(session, keys, resident_id, v) for v in value]
    if isinstance(value, str) and value.startswith(f"{PREFIX}:{resident_id}:{Purpose.RECORD}:"):
        try:
            return await keys.open(session, value)
        except ContactSealError:
            return value
    return value
