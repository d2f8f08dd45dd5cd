"""Handing a parcel to a household: checked and recorded in one locked transaction.

Order of locks, the same in every transaction so none can deadlock: the idempotency key row,
the household (a transaction-scoped advisory lock), then the stock row of the parcel type.
Under the household lock the previous handouts are exact, so the configurable limit is enforced
here; the unique (household_id, event_id, seq) constraint backs it up in the schema. The
household is the one the case belongs to under that lock (``lock_households``): a link at the
desk may move the case between reading its household and taking the lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.food_distribution.domain.eligibility import Eligibility, EligibilityBasis
from tsunagu.food_distribution.domain.handout import Handout, HandoutPolicy, Refusal, check_handout
from tsunagu.food_distribution.domain.stock import Movement
from tsunagu.food_distribution.service_layer.cases import case_row
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.food_distribution.service_layer.errors import Conflict, Invalid, case_not_found
from tsunagu.food_distribution.service_layer.stock import lock_rows, move, remaining
from tsunagu.shared import idempotency
from tsunagu.shared.contracts import food, topics
from tsunagu.shared.contracts.codes import ParcelType
from tsunagu.shared.contracts.envelope import new_id, utcnow
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)
t = tables


@dataclass(frozen=True)
class Outcome:
    """A handout, or the refusal to make one; ``replayed`` when an Idempotency-Key repeated."""

    handout: dict[str, Any] | None = None
    refusal: Conflict | None = None
    replayed: bool = False


async def hand_out(
    session: AsyncSession,
    deps: Deps,
    *,
    case_id: str,
    parcel_type: ParcelType,
    staff: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Hand one parcel out, or say why not. Refusals are returned, not raised, so the
    transaction still commits the idempotency key with its outcome."""
    if idempotency_key:
        request = idempotency.request_hash({"case_id": case_id, "parcel_type": str(parcel_type)})
        stored = await _claim(session, staff, idempotency_key, request)
        if stored is not None:
            return _replay(stored)
    outcome = await _hand_out(session, deps, case_id, parcel_type, staff, now or utcnow())
    if idempotency_key:
        recorded = (
            {"handout": outcome.handout}
            if outcome.refusal is None
            else {"refusal": outcome.refusal.body()}
        )
        await idempotency.record(
            session, t.idempotency_key, staff=staff, key=idempotency_key, outcome=recorded
        )
    return outcome


async def _hand_out(
    session: AsyncSession,
    deps: Deps,
    case_id: str,
    parcel_type: ParcelType,
    staff: str,
    now: datetime,
) -> Outcome:
    case = await case_row(session, case_id)
    if case is None:
        raise case_not_found(case_id)
    event_id = case["event_id"]
    household_id = (await lock_households(session, [case_id]))[case_id]

    policy = deps.config.policy()
    eligibility = await household_eligibility(session, case_id, household_id, event_id)
    previous = await previous_handouts(session, household_id, event_id, now, policy)
    await lock_rows(session, (event_id, parcel_type))
    balance = await remaining(session, event_id)
    checked = check_handout(
        policy, household_id, event_id, now, previous, eligibility, balance, parcel_type
    )
    if isinstance(checked, Refusal):
        log.info("handout_refused", case_id=case_id, event_id=event_id, code=str(checked.code))
        return Outcome(refusal=Conflict.from_refusal(checked))

    handout_id = new_id()
    left = await move(
        session, deps, Movement.handout(event_id, parcel_type), staff=staff, handout_id=handout_id
    )
    await session.execute(
        t.handout.insert().values(
            handout_id=handout_id,
            case_id=case_id,
            household_id=household_id,
            event_id=event_id,
            seq=sum(1 for h in previous if h.event_id == event_id) + 1,
            parcel_type=parcel_type,
            handed_out_by=staff,
            handed_out_at=now,
        )
    )
    data = food.ParcelHandedOut(
        handout_id=handout_id,
        case_id=case_id,
        household_id=household_id,
        event_id=event_id,
        parcel_type=parcel_type,
        handed_out_by=staff,
        handed_out_at=now,
    )
    await deps.outbox.add(
        session,
        topic=topics.FOOD.name,
        aggregatetype="case",
        aggregateid=case_id,
        envelope=deps.outbox.envelope(food.PARCEL_HANDED_OUT, data.model_dump(mode="json")),
    )
    log.info("parcel_handed_out", case_id=case_id, event_id=event_id, parcel_type=parcel_type)
    handout = {
        **data.model_dump(mode="json"),
        "case_number": case["case_number"],
        "remaining": left,
    }
    return Outcome(handout=handout)


def household_lock_key(household_id: str) -> int:
    """A signed 64-bit advisory lock key; a collision only makes two households take turns."""
    digest = hashlib.blake2b(f"food:household:{household_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


#: Reads and locks a transaction makes before it gives up (503: try again). Each further try
#: means another link of these cases committed in the meantime: a second one is already rare.
LOCK_ATTEMPTS = 5


async def lock_households(session: AsyncSession, case_ids: Sequence[str]) -> dict[str, str]:
    """The household of each case, read under its advisory lock: until the transaction ends no
    link moves these cases, so what is counted or moved under the household is exact. Handouts
    and links lock households here.

    A household's lock can be taken only once the household is known, and a link may move the
    case in between: the link moves the rows while it holds the locks, so this transaction waits
    on the household the case is leaving and, without a second look, would count and record
    under it. So the households are read again once locked (read committed: the second read
    sees the link that was waited for). The same: they are the cases' households, locked. Not
    the same: the savepoint is rolled back, which releases the advisory locks taken since it,
    and the loop reads and locks again. A transaction thus holds the household locks of one try
    only, taken in the order of their keys as in every transaction, and never waits for a lock
    while it holds one it no longer needs: no deadlock. Nothing but reads runs in the savepoint.
    """
    for _ in range(LOCK_ATTEMPTS):
        households = await _households_of(session, case_ids)
        savepoint = await session.begin_nested()
        for key in sorted({household_lock_key(h) for h in households.values()}):
            await session.execute(select(func.pg_advisory_xact_lock(key)))
        if await _households_of(session, case_ids) == households:
            await savepoint.commit()  # the locks stay with the transaction
            return households
        await savepoint.rollback()
    # A transient fault to the caller (HTTP 503 with Retry-After): nothing was recorded.
    raise TimeoutError(f"the households of {len(case_ids)} case(s) kept moving")


async def _households_of(session: AsyncSession, case_ids: Sequence[str]) -> dict[str, str]:
    c = t.case_index
    rows = await session.execute(
        select(c.c.case_id, c.c.household_id).where(c.c.case_id.in_(case_ids))
    )
    return {r.case_id: r.household_id for r in rows}


async def household_eligibility(
    session: AsyncSession, case_id: str, household_id: str, event_id: str
) -> Eligibility | None:
    """The case's own eligibility, else that of another case of the household at the event."""
    e = t.eligibility
    row = (
        await session.execute(
            select(e)
            .where(e.c.household_id == household_id, e.c.event_id == event_id)
            .order_by((e.c.case_id == case_id).desc(), e.c.granted_at)
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return Eligibility(
        basis=EligibilityBasis(row.basis),
        reason=row.reason,
        case_id=row.case_id,
        granted_by=row.granted_by,
    )


async def previous_handouts(
    session: AsyncSession,
    household_id: str,
    event_id: str,
    now: datetime,
    policy: HandoutPolicy,
) -> list[Handout]:
    """This household's handouts that the policy may count: at this event, or recent ones."""
    h = t.handout
    scope = h.c.event_id == event_id
    if policy.min_days_between is not None:
        # One day of slack: the domain counts calendar days in Asia/Tokyo.
        since = now - timedelta(days=policy.min_days_between + 1)
        scope = or_(scope, h.c.handed_out_at >= since)
    rows = await session.execute(select(h).where(h.c.household_id == household_id, scope))
    return [
        Handout(
            household_id=r.household_id,
            event_id=r.event_id,
            parcel_type=ParcelType(r.parcel_type),
            handed_out_at=r.handed_out_at,
            handed_out_by=r.handed_out_by,
        )
        for r in rows
    ]


async def _claim(
    session: AsyncSession, staff: str, key: str, request: str
) -> dict[str, Any] | None:
    """Claim the key, or return the outcome stored under it (a concurrent request with the
    same key waits until the first one commits, then reads its outcome)."""
    try:
        return await idempotency.claim(
            session, t.idempotency_key, staff=staff, key=key, request=request
        )
    except idempotency.KeyReused:
        raise Invalid(
            "Idempotency-Key",
            "この Idempotency-Key は別の内容の受け渡しに使われています",
            "Idempotency-Key was already used with a different request body",
            location="header",
        ) from None


def _replay(stored: dict[str, Any]) -> Outcome:
    if "refusal" in stored:
        return Outcome(refusal=Conflict.from_body(stored["refusal"]), replayed=True)
    return Outcome(handout=stored["handout"], replayed=True)
