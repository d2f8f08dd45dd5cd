"""Events as the public sees them, and event planning: capacity, booths, rosters, notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.service_layer import audit, staff
from tsunagu.intake.service_layer.errors import Conflict, Invalid, NotFound
from tsunagu.shared.contracts.codes import Programme


def _public(row: Any) -> dict[str, Any]:
    return {
        "event_id": row.event_id,
        "event_date": row.event_date,
        "opens_at": row.opens_at,
        "closes_at": row.closes_at,
        "programmes": list(row.programmes),
        "venue_name": row.venue_name,
        "venue_name_kana": row.venue_name_kana,
        "address": row.address,
        "access": row.access,
    }


def _public_select() -> Any:
    e, v = tables.consultation_event, tables.venue
    return select(
        e.c.event_id,
        e.c.event_date,
        e.c.opens_at,
        e.c.closes_at,
        e.c.programmes,
        v.c.name.label("venue_name"),
        v.c.name_kana.label("venue_name_kana"),
        v.c.address,
        v.c.access,
    ).join(v, v.c.venue_id == e.c.venue_id)


async def upcoming_events(session: AsyncSession, today: date, limit: int = 100) -> list[dict]:
    """Events from today on: what the residents' page lists (nothing about any resident)."""
    e = tables.consultation_event
    stmt = (
        _public_select()
        .where(e.c.event_date >= today)
        .order_by(e.c.event_date, e.c.opens_at, e.c.venue_id)
        .limit(limit)
    )
    return [_public(row) for row in await session.execute(stmt)]


async def public_event(session: AsyncSession, event_id: str) -> dict[str, Any] | None:
    e = tables.consultation_event
    row = (await session.execute(_public_select().where(e.c.event_id == event_id))).first()
    return None if row is None else _public(row)


# --- planning (admin) ---------------------------------------------------------------------


@dataclass(frozen=True)
class EventPlan:
    """What the planning meeting decides about one event."""

    venue_id: str
    event_date: date
    opens_at: time
    closes_at: time
    programmes: tuple[Programme, ...]
    capacity: int | None = None
    planning_notes: str | None = None
    #: programme → (booth label, staff usernames in order)
    booths: dict[Programme, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


async def get_plan(session: AsyncSession, event_id: str) -> dict[str, Any]:
    """The event with its capacity, notes and booths (each with its roster); NotFound if none."""
    event = await staff.get_event(session, event_id)
    if event is None:
        raise NotFound(event_id)
    b = tables.event_booth
    rows = await session.execute(
        select(b.c.programme, b.c.booth, b.c.roster).where(b.c.event_id == event_id)
    )
    booths = {row.programme: {"booth": row.booth, "roster": list(row.roster)} for row in rows}
    return {**event, "booths": booths}


async def roster(session: AsyncSession, event_id: str) -> list[dict[str, Any]]:
    """Booths of an event in programme order, with the staff's display names (for the board)."""
    b, s = tables.event_booth, tables.staff_user
    rows = (
        await session.execute(
            select(b.c.programme, b.c.booth, b.c.roster).where(b.c.event_id == event_id)
        )
    ).all()
    names = {
        r.username: r.display_name
        for r in await session.execute(
            select(s.c.username, s.c.display_name).where(
                s.c.username.in_({u for row in rows for u in row.roster})
            )
        )
    }
    order = {p.value: i for i, p in enumerate(Programme)}
    return [
        {
            "programme": row.programme,
            "booth": row.booth,
            "staff": [names.get(u, u) for u in row.roster],
        }
        for row in sorted(rows, key=lambda r: order.get(r.programme, 99))
    ]


async def _check_plan(session: AsyncSession, plan: EventPlan) -> None:
    if plan.closes_at <= plan.opens_at:
        raise Invalid("closes_at", "終了時刻は開始時刻より後にしてください")
    if not plan.programmes:
        raise Invalid("programmes", "参加する窓口を1つ以上選んでください")
    if plan.capacity is not None and not 1 <= plan.capacity <= 10_000:
        raise Invalid("capacity", "定員は1〜10000の数で入力してください")
    if plan.planning_notes is not None and len(plan.planning_notes) > 4000:
        raise Invalid("planning_notes", "メモは4000文字までにしてください")
    v = tables.venue
    if await session.scalar(select(v.c.venue_id).where(v.c.venue_id == plan.venue_id)) is None:
        raise Invalid("venue_id", "会場が見つかりません")
    for programme, (booth, people) in plan.booths.items():
        if programme not in plan.programmes:
            raise Invalid(f"booth.{programme.value}", "参加しない窓口にブースは置けません")
        if len(booth) > 50:
            raise Invalid(f"booth.{programme.value}", "ブース名は50文字までにしてください")
        s = tables.staff_user
        known = set(
            await session.scalars(select(s.c.username).where(s.c.username.in_(set(people))))
        )
        unknown = [u for u in people if u not in known]
        if unknown:
            raise Invalid(
                f"roster.{programme.value}", f"職員が見つかりません: {', '.join(unknown)}"
            )


async def _write_booths(session: AsyncSession, event_id: str, plan: EventPlan) -> None:
    b = tables.event_booth
    await session.execute(b.delete().where(b.c.event_id == event_id))
    for programme, (booth, people) in plan.booths.items():
        if booth or people:
            await session.execute(
                b.insert().values(
                    event_id=event_id,
                    programme=programme.value,
                    booth=booth,
                    roster=list(dict.fromkeys(people)),
                )
            )


async def create_planned(session: AsyncSession, actor: str, plan: EventPlan) -> str:
    """A new event with its plan; Conflict if the venue already has one that day."""
    await _check_plan(session, plan)
    event_id = staff.event_id_for(plan.event_date, plan.venue_id)
    e = tables.consultation_event
    inserted = await session.execute(
        insert(e)
        .values(
            event_id=event_id,
            venue_id=plan.venue_id,
            event_date=plan.event_date,
            opens_at=plan.opens_at,
            closes_at=plan.closes_at,
            programmes=sorted({p.value for p in plan.programmes}),
            capacity=plan.capacity,
            planning_notes=plan.planning_notes,
        )
        .on_conflict_do_nothing()
        .returning(e.c.event_id)
    )
    if inserted.first() is None:
        raise Conflict("この会場のこの日の相談会は既にあります")
    await _write_booths(session, event_id, plan)
    await audit.record(session, actor, "event.create", target=event_id)
    return event_id


async def change_event(session: AsyncSession, actor: str, event_id: str, plan: EventPlan) -> str:
    """Change an event's plan; returns its id, which follows a new date or venue.

    A date or venue can change only while no resident has been taken in at the event (their
    cases name it); afterwards that is a Conflict, and hours, programmes, capacity, notes and
    booths still change.
    """
    current = await staff.get_event(session, event_id)
    if current is None:
        raise NotFound(event_id)
    await _check_plan(session, plan)
    e = tables.consultation_event
    values = {
        "opens_at": plan.opens_at,
        "closes_at": plan.closes_at,
        "programmes": sorted({p.value for p in plan.programmes}),
        "capacity": plan.capacity,
        "planning_notes": plan.planning_notes,
    }
    new_id = staff.event_id_for(plan.event_date, plan.venue_id)
    if new_id != event_id:
        c = tables.case
        if await session.scalar(select(c.c.case_id).where(c.c.event_id == event_id).limit(1)):
            raise Conflict("受付済みの相談があるため、日付と会場は変えられません")
        if await staff.get_event(session, new_id) is not None:
            raise Conflict("この会場のこの日の相談会は既にあります")
        await session.execute(
            insert(e).values(
                event_id=new_id, venue_id=plan.venue_id, event_date=plan.event_date, **values
            )
        )
        b = tables.event_booth
        await session.execute(b.delete().where(b.c.event_id == event_id))
        await session.execute(e.delete().where(e.c.event_id == event_id))
    else:
        await session.execute(e.update().where(e.c.event_id == event_id).values(**values))
    await _write_booths(session, new_id, plan)
    await audit.record(session, actor, "event.change", target=new_id, previous=event_id)
    return new_id


async def copy_event(session: AsyncSession, actor: str, event_id: str, to_date: date) -> str:
    """Last year's event again on ``to_date``: venue, hours, capacity, programmes, booths, notes."""
    source = await get_plan(session, event_id)
    programmes = tuple(Programme(p) for p in source["programmes"] if p in _PROGRAMMES)
    plan = EventPlan(
        venue_id=source["venue_id"],
        event_date=to_date,
        opens_at=source["opens_at"],
        closes_at=source["closes_at"],
        programmes=programmes,
        capacity=source["capacity"],
        planning_notes=source["planning_notes"],
        booths={
            Programme(p): (b["booth"], tuple(b["roster"]))
            for p, b in source["booths"].items()
            if p in _PROGRAMMES and Programme(p) in programmes
        },
    )
    new_id = await create_planned(session, actor, plan)
    await audit.record(session, actor, "event.copy", target=new_id, source=event_id)
    return new_id


def same_weekday_next_year(day: date) -> date:
    """52 weeks on: the same weekday about a year later (a Saturday event stays a Saturday)."""
    return day + timedelta(weeks=52)


_PROGRAMMES = {p.value for p in Programme}
