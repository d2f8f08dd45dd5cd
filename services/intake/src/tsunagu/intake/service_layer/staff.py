"""Staff accounts, venues and consultation events: signing in and the admin pages' commands."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.adapters.passwords import hash_password, verify_password
from tsunagu.intake.domain import login_throttle as throttle
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer.errors import Conflict, Invalid, LoginLocked, NotFound
from tsunagu.shared.auth import Principal
from tsunagu.shared.contracts.codes import Programme, StaffRole
from tsunagu.shared.contracts.envelope import utcnow


async def authenticate(
    session: AsyncSession, username: str, password: str, *, audit_as: str
) -> Principal | None:
    """The staff member with this username and password, if active (the sign-in is audited
    as ``audit_as``); else None.

    Failures are counted per username (``domain.login_throttle``); a locked username raises
    ``LoginLocked`` whatever the password. The count's row stays locked until the caller's
    transaction ends, so guesses at one username are taken one at a time.
    """
    now = utcnow()
    failures = await _failures(session, username, now)
    until = throttle.locked_until(failures, now)
    if until is not None:
        raise LoginLocked(until)
    t = tables.staff_user
    row = (await session.execute(select(t).where(t.c.username == username))).first()
    stored = row.password_hash if row is not None and row.active else None
    # scrypt takes tens of milliseconds: keep the event loop free meanwhile.
    ok = await asyncio.to_thread(verify_password, password, stored)
    f = tables.login_failure
    if not ok or row is None:
        counted = throttle.after_failure(failures, now)
        await session.execute(
            update(f)
            .where(f.c.username == username)
            .values(
                count=counted.count, first_at=counted.first_at, locked_until=counted.locked_until
            )
        )
        return None
    await session.execute(delete(f).where(f.c.username == username))
    await audit.record(session, row.username, audit_as)
    return Principal(
        username=row.username,
        roles=frozenset(row.roles),
        programmes=frozenset(row.programmes),
        display_name=row.display_name,
        venue_id=row.venue_id,
    )


async def _failures(
    session: AsyncSession, username: str, now: datetime
) -> throttle.Failures | None:
    """This username's failed logins, its row locked (made if missing); None if none count."""
    f = tables.login_failure
    # Rows whose window and lock ended a day ago tell nothing any more.
    stale = now - timedelta(days=1)
    await session.execute(
        delete(f).where(
            f.c.first_at < stale, or_(f.c.locked_until.is_(None), f.c.locked_until < stale)
        )
    )
    await session.execute(
        insert(f).values(username=username, count=0, first_at=now).on_conflict_do_nothing()
    )
    row = (await session.execute(select(f).where(f.c.username == username).with_for_update())).one()
    if row.count == 0:
        return None
    return throttle.Failures(row.count, row.first_at, row.locked_until)


@dataclass(frozen=True)
class StaffInput:
    username: str
    display_name: str
    roles: frozenset[StaffRole]
    programmes: frozenset[Programme]
    venue_id: str | None
    active: bool = True
    password: str | None = None  # None keeps the current password


async def save_staff(session: AsyncSession, actor: str, staff: StaffInput, *, new: bool) -> None:
    t = tables.staff_user
    if StaffRole.PROGRAMME in staff.roles and not staff.programmes:
        raise Invalid("programmes", "窓口の担当者には担当窓口を1つ以上選んでください")
    if staff.venue_id is not None:
        await _venue_exists(session, staff.venue_id)
    values: dict[str, Any] = {
        "display_name": staff.display_name,
        "roles": sorted(staff.roles),
        "programmes": sorted(staff.programmes),
        "venue_id": staff.venue_id,
        "active": staff.active,
        "updated_at": func.now(),
    }
    if staff.password:
        values["password_hash"] = await asyncio.to_thread(hash_password, staff.password)
    if new:
        if not staff.password:
            raise Invalid("password", "パスワードを入力してください")
        inserted = await session.execute(
            insert(t)
            .values(username=staff.username, **values)
            .on_conflict_do_nothing()
            .returning(t.c.username)
        )
        if inserted.first() is None:
            raise Conflict("このユーザー名は既に使われています")
    else:
        updated = await session.execute(
            t.update()
            .where(t.c.username == staff.username)
            .values(**values)
            .returning(t.c.username)
        )
        if updated.first() is None:
            raise NotFound(staff.username)
    changed = sorted(k for k in values if k != "updated_at")
    await audit.record(
        session, actor, "staff.create" if new else "staff.update", target=staff.username,
        fields=changed,
    )  # fmt: skip


async def list_staff(session: AsyncSession) -> list[dict[str, Any]]:
    t = tables.staff_user
    rows = await session.execute(select(t).order_by(t.c.username))
    return [{k: v for k, v in row._mapping.items() if k != "password_hash"} for row in rows]


async def get_staff(session: AsyncSession, username: str) -> dict[str, Any]:
    t = tables.staff_user
    row = (await session.execute(select(t).where(t.c.username == username))).first()
    if row is None:
        raise NotFound(username)
    return {k: v for k, v in row._mapping.items() if k != "password_hash"}


async def save_venue(
    session: AsyncSession,
    actor: str,
    venue_id: str,
    name: str,
    address: str | None,
    access: str | None = None,
) -> None:
    """Create or change a venue; ``access`` (how to get there, shown to residents) too."""
    t = tables.venue
    values = {"name": name, "address": address, "access": access}
    await session.execute(
        insert(t)
        .values(venue_id=venue_id, **values)
        .on_conflict_do_update(index_elements=[t.c.venue_id], set_=values)
    )
    await audit.record(session, actor, "venue.save", target=venue_id)


async def list_venues(session: AsyncSession) -> list[dict[str, Any]]:
    t = tables.venue
    rows = await session.execute(select(t).order_by(t.c.venue_id))
    return [dict(row._mapping) for row in rows]


async def _venue_exists(session: AsyncSession, venue_id: str) -> None:
    t = tables.venue
    if (
        await session.execute(select(t.c.venue_id).where(t.c.venue_id == venue_id))
    ).first() is None:
        raise Invalid("venue_id", "会場が見つかりません")


def event_id_for(event_date: date, venue_id: str) -> str:
    return f"{event_date:%Y%m%d}-{venue_id}"[:64]


async def create_event(
    session: AsyncSession,
    actor: str,
    *,
    venue_id: str,
    event_date: date,
    opens_at: time,
    closes_at: time,
    programmes: Iterable[Programme],
) -> str:
    await _venue_exists(session, venue_id)
    if closes_at <= opens_at:
        raise Invalid("closes_at", "終了時刻は開始時刻より後にしてください")
    present = sorted({Programme(p) for p in programmes})
    if not present:
        raise Invalid("programmes", "参加する窓口を1つ以上選んでください")
    event_id = event_id_for(event_date, venue_id)
    t = tables.consultation_event
    inserted = await session.execute(
        insert(t)
        .values(
            event_id=event_id,
            venue_id=venue_id,
            event_date=event_date,
            opens_at=opens_at,
            closes_at=closes_at,
            programmes=present,
        )
        .on_conflict_do_nothing()
        .returning(t.c.event_id)
    )
    if inserted.first() is None:
        raise Conflict("この会場のこの日の相談会は既にあります")
    await audit.record(session, actor, "event.create", target=event_id)
    return event_id


async def list_events(
    session: AsyncSession,
    *,
    from_date: date | None = None,
    to_date: date | None = None,
    venue_id: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    e, v = tables.consultation_event, tables.venue
    stmt = (
        select(e, v.c.name.label("venue_name"))
        .join(v, v.c.venue_id == e.c.venue_id)
        .order_by(e.c.event_date, e.c.venue_id)
        .limit(limit)
    )
    if from_date is not None:
        stmt = stmt.where(e.c.event_date >= from_date)
    if to_date is not None:
        stmt = stmt.where(e.c.event_date <= to_date)
    if venue_id is not None:
        stmt = stmt.where(e.c.venue_id == venue_id)
    return [dict(row._mapping) for row in await session.execute(stmt)]


async def get_event(session: AsyncSession, event_id: str) -> dict[str, Any] | None:
    e, v = tables.consultation_event, tables.venue
    row = (
        await session.execute(
            select(e, v.c.name.label("venue_name"))
            .join(v, v.c.venue_id == e.c.venue_id)
            .where(e.c.event_id == event_id)
        )
    ).first()
    return None if row is None else dict(row._mapping)
