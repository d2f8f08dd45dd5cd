"""Stock commands: receipts, transfers and adjustments, each on a locked stock row.

Every change goes through ``move``: it locks the (event, parcel type) row, applies the domain's
``apply`` (which refuses to go below zero), writes the ledger line with its staff member and
publishes ``stock_low`` when the balance drops below the threshold (once per crossing: the row
lock makes "before" and "after" exact).
"""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import Date, String, TextClause, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.food_distribution.domain import stock as ledger
from tsunagu.food_distribution.domain.labels import PARCEL_TYPE_LABELS_JA
from tsunagu.food_distribution.domain.stock import Movement, OutOfStock
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.food_distribution.service_layer.errors import Conflict, Invalid, event_not_found
from tsunagu.shared import idempotency
from tsunagu.shared.clock import japan_today
from tsunagu.shared.contracts import food, topics
from tsunagu.shared.contracts.codes import ParcelType
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)
t = tables


def _ensure_event_statement(update_name: bool) -> TextClause:
    """One statement for ``ensure_event``: the event row (its venue's name set when given and
    the venue matches), its zero stock rows, and the event's venue back.

    The venue comes from the insert's ``RETURNING`` or, when the event was there before, from
    the table; the stock rows reference the event inserted by the same statement (foreign keys
    are checked at its end). Built once, from the table names only."""
    e, s = t.event.fullname, t.stock.fullname
    on_conflict = (
        "DO UPDATE SET venue_name = excluded.venue_name WHERE t.venue_id = excluded.venue_id"
        if update_name
        else "DO NOTHING"
    )
    return text(
        f"WITH made AS (INSERT INTO {e} AS t (event_id, venue_id, venue_name, held_on) "  # noqa: S608
        f"VALUES (:event_id, :venue_id, :venue_name, :held_on) "
        f"ON CONFLICT (event_id) {on_conflict} RETURNING t.venue_id), "
        f"known AS (SELECT venue_id FROM made UNION ALL "
        f"SELECT venue_id FROM {e} WHERE event_id = :event_id LIMIT 1), "
        f"stock AS (INSERT INTO {s} (event_id, parcel_type, venue_id) "
        f"SELECT :event_id, p.parcel_type, known.venue_id FROM known "
        f"CROSS JOIN unnest(CAST(:parcel_types AS text[])) AS p(parcel_type) "
        f"ON CONFLICT DO NOTHING) "
        f"SELECT venue_id FROM known"
    ).bindparams(bindparam("held_on", type_=Date()), bindparam("venue_name", type_=String()))


_ENSURE_EVENT = {False: _ensure_event_statement(False), True: _ensure_event_statement(True)}
_PARCEL_TYPE_CODES = [p.value for p in ParcelType]


async def ensure_event(
    session: AsyncSession,
    event_id: str,
    venue_id: str,
    held_on: date,
    venue_name: str | None = None,
) -> str:
    """Register an event and its zero stock rows if new (and its venue's name, once one is
    given); returns the event's venue.

    One round trip (it was three: the event, a read of its venue, the stock rows). Should the
    statement find no venue (another transaction registered the event after the statement
    began: its snapshot does not show that row, and ``DO NOTHING`` returns none), the steps
    are taken one by one, each seeing what was committed before it."""
    values = {"event_id": event_id, "venue_id": venue_id, "venue_name": venue_name}
    known = (
        await session.execute(
            _ENSURE_EVENT[venue_name is not None],
            {**values, "held_on": held_on, "parcel_types": _PARCEL_TYPE_CODES},
        )
    ).scalar()
    if known is not None:
        return str(known)
    return await _ensure_event_step_by_step(session, event_id, venue_id, held_on, venue_name)


async def _ensure_event_step_by_step(
    session: AsyncSession, event_id: str, venue_id: str, held_on: date, venue_name: str | None
) -> str:
    stmt = insert(t.event).values(
        event_id=event_id, venue_id=venue_id, venue_name=venue_name, held_on=held_on
    )
    if venue_name is None:
        stmt = stmt.on_conflict_do_nothing()
    else:
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.event.c.event_id],
            set_={"venue_name": venue_name},
            where=t.event.c.venue_id == venue_id,
        )
    await session.execute(stmt)
    known = (
        await session.execute(select(t.event.c.venue_id).where(t.event.c.event_id == event_id))
    ).scalar_one()
    # An executemany of one cached statement (``.values([...])`` is compiled at every call).
    await session.execute(
        insert(t.stock).on_conflict_do_nothing(),
        [{"event_id": event_id, "parcel_type": p, "venue_id": known} for p in ParcelType],
    )
    return str(known)


async def event_venue(session: AsyncSession, event_id: str) -> str:
    return (await _venue(session, event_id))[0]


async def _venue(session: AsyncSession, event_id: str) -> tuple[str, str | None]:
    """The event's venue id and display name (None until intake has named it)."""
    row = (
        await session.execute(
            select(t.event.c.venue_id, t.event.c.venue_name).where(t.event.c.event_id == event_id)
        )
    ).first()
    if row is None:
        raise event_not_found(event_id)
    return str(row.venue_id), row.venue_name


async def lock_rows(
    session: AsyncSession, *keys: tuple[str, ParcelType]
) -> dict[tuple[str, ParcelType], int]:
    """Lock stock rows in one fixed order (no deadlock between transfers); returns balances."""
    locked: dict[tuple[str, ParcelType], int] = {}
    for event_id, parcel_type in sorted(set(keys)):
        quantity = (
            await session.execute(
                select(t.stock.c.quantity)
                .where(t.stock.c.event_id == event_id, t.stock.c.parcel_type == parcel_type)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if quantity is None:
            raise event_not_found(event_id)
        locked[(event_id, parcel_type)] = int(quantity)
    return locked


async def remaining(session: AsyncSession, event_id: str) -> dict[ParcelType, int]:
    rows = await session.execute(
        select(t.stock.c.parcel_type, t.stock.c.quantity).where(t.stock.c.event_id == event_id)
    )
    balance = ledger.empty_balance()
    balance.update({ParcelType(p): int(q) for p, q in rows.all()})
    return balance


async def move(
    session: AsyncSession,
    deps: Deps,
    movement: Movement,
    *,
    staff: str,
    handout_id: str | None = None,
) -> int:
    """Apply one movement to its locked row; returns the new balance. Raises Conflict if short."""
    key = (movement.event_id, movement.parcel_type)
    before = (await lock_rows(session, key))[key]
    try:
        after = ledger.apply({movement.parcel_type: before}, movement)[movement.parcel_type]
    except OutOfStock as short:
        raise out_of_stock(short, await remaining(session, movement.event_id)) from None
    venue_id, venue_name = await _venue(session, movement.event_id)
    await session.execute(
        update(t.stock)
        .where(
            t.stock.c.event_id == movement.event_id, t.stock.c.parcel_type == movement.parcel_type
        )
        .values(quantity=after, updated_at=utcnow())
    )
    await session.execute(
        t.stock_movement.insert().values(
            event_id=movement.event_id,
            venue_id=venue_id,
            parcel_type=movement.parcel_type,
            kind=movement.kind,
            quantity=movement.quantity,
            delta=movement.delta,
            balance_after=after,
            source=movement.source,
            counterpart=movement.counterpart,
            reason=movement.reason,
            handout_id=handout_id,
            staff=staff,
        )
    )
    threshold = deps.config.threshold(movement.parcel_type)
    if ledger.low_stock_crossings(before, after, threshold):
        data = food.StockLow(
            event_id=movement.event_id,
            venue_id=venue_id,
            parcel_type=movement.parcel_type,
            remaining=after,
            threshold=threshold,
            venue_name=venue_name,
        )
        await deps.outbox.add(
            session,
            topic=topics.FOOD.name,
            aggregatetype="event",
            aggregateid=movement.event_id,
            envelope=deps.outbox.envelope(food.STOCK_LOW, data.model_dump(mode="json")),
        )
        log.info(
            "stock_low",
            event_id=movement.event_id,
            parcel_type=str(movement.parcel_type),
            remaining=after,
            threshold=threshold,
        )
    return after


def out_of_stock(short: OutOfStock, balance: dict[ParcelType, int]) -> Conflict:
    listed_ja = "、".join(f"{PARCEL_TYPE_LABELS_JA[p]}: {n}" for p, n in balance.items())
    label = PARCEL_TYPE_LABELS_JA[short.parcel_type]
    return Conflict(
        "out_of_stock",
        f"{label}の在庫が足りません（残り {short.remaining}。{listed_ja}）",
        f"Not enough {short.parcel_type} in stock (remaining {short.remaining})",
        {
            "parcel_type": str(short.parcel_type),
            "remaining": {str(p): n for p, n in balance.items()},
        },
    )


async def receive(
    session: AsyncSession,
    deps: Deps,
    *,
    event_id: str,
    venue_id: str,
    parcel_type: ParcelType,
    quantity: int,
    source: str,
    staff: str,
) -> int:
    """Stock arriving at an event from outside (a food bank, a donor)."""
    movement = Movement.receipt(event_id, parcel_type, quantity, source)
    await _event_at(session, event_id, venue_id)
    return await move(session, deps, movement, staff=staff)


async def _event_at(session: AsyncSession, event_id: str, venue_id: str) -> None:
    """Register the event at ``venue_id`` if new; refuse if it is known at another venue."""
    known = await ensure_event(session, event_id, venue_id, japan_today())
    if known != venue_id:
        raise Conflict(
            "venue_mismatch",
            f"この開催の会場は {known} です（{venue_id} ではありません）",
            f"Event {event_id} is held at venue {known}, not {venue_id}",
            {"event_id": event_id, "venue_id": known},
        )


async def transfer(
    session: AsyncSession,
    deps: Deps,
    *,
    from_event_id: str,
    to_event_id: str,
    to_venue_id: str | None,
    parcel_type: ParcelType,
    quantity: int,
    staff: str,
) -> tuple[int, int]:
    """Move parcels from one event's stock to another's (usually another venue's)."""
    if from_event_id == to_event_id:
        raise Invalid(
            "to_event_id",
            "移動先は移動元と別の開催にしてください",
            "to_event_id must differ from from_event_id",
        )
    out = Movement.transfer_out(from_event_id, parcel_type, quantity, to_event_id)
    into = Movement.transfer_in(to_event_id, parcel_type, quantity, from_event_id)
    await event_venue(session, from_event_id)
    if to_venue_id is None:
        await event_venue(session, to_event_id)
    else:
        await _event_at(session, to_event_id, to_venue_id)
    await lock_rows(session, (from_event_id, parcel_type), (to_event_id, parcel_type))
    left = await move(session, deps, out, staff=staff)
    arrived = await move(session, deps, into, staff=staff)
    return left, arrived


async def adjust(
    session: AsyncSession,
    deps: Deps,
    *,
    event_id: str,
    parcel_type: ParcelType,
    delta: int,
    reason: str,
    staff: str,
) -> int:
    """A stocktake correction, damage or expiry: signed, with its reason."""
    return await move(
        session, deps, Movement.adjustment(event_id, parcel_type, delta, reason), staff=staff
    )


async def correct_count(
    session: AsyncSession,
    deps: Deps,
    *,
    event_id: str,
    parcel_type: ParcelType,
    counted: int,
    reason: str,
    staff: str,
) -> tuple[int, int]:
    """A stocktake: the desk counted ``counted`` parcels; the ledger gets the difference as an
    adjustment with its reason. The difference is taken against the locked row, so a handout
    between the count and the form does not skew it. Returns (delta, new balance)."""
    key = (event_id, parcel_type)
    before = (await lock_rows(session, key))[key]
    delta = counted - before
    if delta == 0:
        raise Invalid(
            "counted",
            f"数えた数が今の在庫（{before} 個）と同じです。修正はありません",
            f"The count equals the current stock ({before}); nothing to correct",
        )
    after = await adjust(
        session, deps, event_id=event_id, parcel_type=parcel_type, delta=delta, reason=reason,
        staff=staff,
    )  # fmt: skip
    return delta, after


async def first_time(session: AsyncSession, staff: str, key: str, request: str) -> bool:
    """Claim a desk form's one-time key: False when this very form was already applied (a
    double tap or a resubmitted page), so it is applied once. The key shares the handouts'
    table under its own prefix; a key reused for another request is refused."""
    scoped = "stock:" + key[: idempotency.KEY_LENGTH - len("stock:")]
    try:
        earlier = await idempotency.claim(
            session,
            t.idempotency_key,
            staff=staff,
            key=scoped,
            request=hashlib.sha256(request.encode()).hexdigest(),
            outcome={"applied": True},
        )
    except idempotency.KeyReused:
        raise Invalid(
            "idempotency_key",
            "この画面の送信は別の内容で使われています。画面を開き直してください",
            "This form's key was already used for a different request",
        ) from None
    return earlier is None
