"""Staff accounts, venues and consultation events: signing in and the admin pages' commands."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters import totp
from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.adapters.passwords import hash_password, verify_password
from tsunagu.intake.domain import login_throttle as throttle
from tsunagu.intake.domain.normalize import ReadingError, venue_kana
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer.errors import Conflict, Invalid, LoginLocked, NotFound
from tsunagu.shared import revocation
from tsunagu.shared.auth import Principal
from tsunagu.shared.contracts.codes import Programme, StaffRole
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.contracts.intake import STAFF_SESSIONS_REVOKED, StaffSessionsRevoked
from tsunagu.shared.contracts.topics import INTAKE_STAFF
from tsunagu.shared.crypto import ContactSealError, MasterKeys
from tsunagu.shared.outbox import OutboxWriter

#: A staff member's sign-in still owes this before it opens anything but the page settling it.
PENDING_PASSWORD = "password_change"  # noqa: S105 (a state, not a secret)
PENDING_TOTP_SETUP = "totp_setup"
MIN_PASSWORD_LENGTH = 12


async def authenticate(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    address: str,
    audit_as: str,
    master: MasterKeys,
    otp: str | None = None,
    now: datetime | None = None,
) -> Principal | None:
    """The staff member with this username and password, if active (the sign-in is audited
    as ``audit_as``); else None.

    Failed attempts are counted per client address, per address and username, and per username
    (``domain.login_throttle``); while one of those counts must wait, ``LoginLocked`` is raised
    before the password is looked at. A staff member with a second factor must also give the
    current TOTP code (``otp``), each code once; without it (or with a wrong or used one) the
    attempt fails like a wrong password, so the answer tells a guesser nothing about which part
    was wrong. The secret is unsealed with ``master``.
    """
    now = now or utcnow()
    counts = await _counts(session, username, address, now)
    until = throttle.retry_at(counts, now)
    if until is not None:
        raise LoginLocked(until)
    t = tables.staff_user
    row = (await session.execute(select(t).where(t.c.username == username))).first()
    stored = row.password_hash if row is not None and row.active else None
    # scrypt takes tens of milliseconds: keep the event loop free meanwhile.
    ok = await asyncio.to_thread(verify_password, password, stored)
    if ok and row is not None and row.totp_secret:
        ok = await _take_code(session, row, otp, master, now)
    if not ok or row is None:
        await _count_failure(session, counts, username, address, now)
        return None
    d = tables.login_delay
    await session.execute(
        delete(d).where(
            d.c.key.in_(
                [
                    throttle.key(throttle.PAIR, address=address, username=username),
                    throttle.key(throttle.USERNAME, address=address, username=username),
                ]
            )
        )
    )
    await audit.record(session, row.username, audit_as)
    pending = ""
    if row.password_change_required:
        pending = PENDING_PASSWORD
    elif StaffRole.ADMIN.value in row.roles and not row.totp_secret:
        pending = PENDING_TOTP_SETUP
    return Principal(
        username=row.username,
        roles=frozenset(row.roles),
        programmes=frozenset(row.programmes),
        display_name=row.display_name,
        venue_id=row.venue_id,
        version=row.token_version,
        pending=pending,
    )


async def _take_code(
    session: AsyncSession, row: Any, otp: str | None, master: MasterKeys, now: datetime
) -> bool:
    """Whether ``otp`` is this person's current code and unused; if so it is now used.

    The step is moved on by one conditional update, so two sign-ins racing with one code
    cannot both pass. A secret stored before sealing, or sealed by a master key since rotated,
    is sealed by the current key on the way.
    """
    if otp is None:
        return False
    step = totp.matching_step(totp.unseal(master, row.totp_secret), otp, now)
    if step is None:
        return False
    t = tables.staff_user
    values: dict[str, Any] = {"totp_last_step": step}
    if totp.needs_sealing(master, row.totp_secret):
        values["totp_secret"] = totp.seal(master, totp.unseal(master, row.totp_secret))
    taken = await session.execute(
        update(t)
        .where(t.c.username == row.username)
        .where((t.c.totp_last_step.is_(None)) | (t.c.totp_last_step < step))
        .values(**values)
    )
    return bool(taken.rowcount)


async def _counts(
    session: AsyncSession, username: str, address: str, now: datetime
) -> dict[throttle.Rule, throttle.Count | None]:
    d = tables.login_delay
    # Counts forgotten a while ago tell nothing any more.
    await session.execute(
        delete(d).where(d.c.last_failed_at < now - throttle.FORGET_AFTER - timedelta(hours=1))
    )
    keys = {throttle.key(r, address=address, username=username): r for r in throttle.RULES}
    rows = await session.execute(select(d).where(d.c.key.in_(list(keys))))
    found = {row.key: throttle.Count(row.failures, row.last_failed_at) for row in rows}
    return {rule: found.get(k) for k, rule in keys.items()}


async def _count_failure(
    session: AsyncSession,
    counts: dict[throttle.Rule, throttle.Count | None],
    username: str,
    address: str,
    now: datetime,
) -> None:
    for rule, count in counts.items():
        counted = throttle.after_failure(count, now)
        await _save_count(session, throttle.key(rule, address=address, username=username), counted)


async def _save_count(session: AsyncSession, key: str, count: throttle.Count) -> None:
    d = tables.login_delay
    stmt = insert(d).values(key=key, failures=count.failures, last_failed_at=count.last_failed_at)
    # Two failures at once both count: add one to whatever is stored (unless forgotten).
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[d.c.key],
            set_={
                "failures": case(
                    (d.c.last_failed_at < count.last_failed_at - throttle.FORGET_AFTER, 1),
                    else_=d.c.failures + 1,
                ),
                "last_failed_at": count.last_failed_at,
            },
        )
    )


# --- ending sign-ins ------------------------------------------------------------------------------


async def revoke(
    session: AsyncSession,
    outbox: OutboxWriter,
    username: str,
    *,
    token_ttl_seconds: int,
    session_id: str | None = None,
) -> StaffSessionsRevoked:
    """End one sign-in (``session_id``: logout) or every sign-in of ``username`` (its token
    version goes up), here and, through ``staff_sessions_revoked``, in every service."""
    expires_at = utcnow() + timedelta(seconds=token_ttl_seconds)
    version: int | None = None
    if session_id is None:
        t = tables.staff_user
        version = (
            await session.execute(
                update(t)
                .where(t.c.username == username)
                .values(token_version=t.c.token_version + 1)
                .returning(t.c.token_version)
            )
        ).scalar_one_or_none()
        if version is None:
            raise NotFound(username)
    data = StaffSessionsRevoked(
        username=username, session_id=session_id, version=version, expires_at=expires_at
    )
    await revocation.record(session, tables.revoked_session, tables.staff_token_version, data)
    envelope = outbox.envelope(STAFF_SESSIONS_REVOKED, data.model_dump(mode="json"))
    await outbox.add(
        session,
        topic=INTAKE_STAFF.name,
        aggregatetype="staff",
        aggregateid=username,
        envelope=envelope,
    )
    return data


async def change_password(
    session: AsyncSession,
    outbox: OutboxWriter,
    username: str,
    current: str,
    new: str,
    *,
    token_ttl_seconds: int,
) -> StaffSessionsRevoked:
    """One's own password: the current one must be right; every sign-in ends, this one too
    (the caller signs the person in again with the new version)."""
    check_password_rules(new, username)
    t = tables.staff_user
    row = (await session.execute(select(t).where(t.c.username == username))).first()
    if row is None or not row.active:
        raise NotFound(username)
    if not await asyncio.to_thread(verify_password, current, row.password_hash):
        raise Invalid("current_password", "現在のパスワードが違います")
    if await asyncio.to_thread(verify_password, new, row.password_hash):
        raise Invalid("new_password", "新しいパスワードは現在のものと別にしてください")
    await session.execute(
        update(t)
        .where(t.c.username == username)
        .values(
            password_hash=await asyncio.to_thread(hash_password, new),
            password_change_required=False,
            updated_at=func.now(),
        )
    )
    await audit.record(session, username, "auth.password_change", target=username)
    return await revoke(session, outbox, username, token_ttl_seconds=token_ttl_seconds)


def check_password_rules(password: str, username: str, field: str = "new_password") -> None:
    """Long enough, and not the username: the rules NIST SP 800-63B keeps (no composition).
    A refusal is Invalid on ``field``, the password's field where it was typed."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(field, f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください")
    if password.casefold() == username.casefold():
        raise Invalid(field, "ユーザー名と同じパスワードは使えません")


async def current_version(session: AsyncSession, username: str) -> int:
    t = tables.staff_user
    version = await session.scalar(select(t.c.token_version).where(t.c.username == username))
    if version is None:
        raise NotFound(username)
    return int(version)


@dataclass(frozen=True)
class StaffInput:
    username: str
    display_name: str
    roles: frozenset[StaffRole]
    programmes: frozenset[Programme]
    venue_id: str | None
    active: bool = True
    password: str | None = None  # None keeps the current password


async def save_staff(
    session: AsyncSession,
    actor: str,
    staff: StaffInput,
    *,
    new: bool,
    outbox: OutboxWriter,
    token_ttl_seconds: int,
) -> StaffSessionsRevoked | None:
    """Create or change an account. A password an admin sets must be changed at the next
    sign-in. Deactivating the account, or changing its roles, programmes or password, ends
    every sign-in it has (returned, so the caller's process can refuse them at once)."""
    t = tables.staff_user
    if StaffRole.PROGRAMME in staff.roles and not staff.programmes:
        raise Invalid("programmes", "窓口の担当者には担当窓口を1つ以上選んでください")
    if staff.venue_id is not None:
        await _venue_exists(session, staff.venue_id)
    if staff.password:
        check_password_rules(staff.password, staff.username, field="password")
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
        values["password_change_required"] = True
    revoked: StaffSessionsRevoked | None = None
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
            raise Conflict("このユーザー名は既に使われています", field="username")
        changed = sorted(k for k in values if k not in ("updated_at", "password_hash"))
    else:
        before = (
            await session.execute(select(t).where(t.c.username == staff.username).with_for_update())
        ).first()
        if before is None:
            raise NotFound(staff.username)
        changed = sorted(
            k
            for k, v in values.items()
            if k not in ("updated_at", "password_hash") and getattr(before, k) != v
        )
        if staff.password:
            changed.append("password")
        await session.execute(t.update().where(t.c.username == staff.username).values(**values))
        if {"active", "roles", "programmes", "password"} & set(changed):
            revoked = await revoke(
                session, outbox, staff.username, token_ttl_seconds=token_ttl_seconds
            )
    await audit.record(
        session, actor, "staff.create" if new else "staff.update", target=staff.username,
        fields=changed,
    )  # fmt: skip
    return revoked


_HIDDEN_COLUMNS = (
    "password_hash",
    "totp_secret",
    "totp_last_step",
    "totp_pending",
    "totp_pending_until",
)


async def list_staff(session: AsyncSession) -> list[dict[str, Any]]:
    t = tables.staff_user
    rows = await session.execute(select(t).order_by(t.c.username))
    return [_public(row._mapping) for row in rows]


async def get_staff(session: AsyncSession, username: str) -> dict[str, Any]:
    t = tables.staff_user
    row = (await session.execute(select(t).where(t.c.username == username))).first()
    if row is None:
        raise NotFound(username)
    return _public(row._mapping)


def _public(row: Any) -> dict[str, Any]:
    found = {k: v for k, v in row.items() if k not in _HIDDEN_COLUMNS}
    found["totp_enabled"] = bool(row["totp_secret"])
    return found


async def save_venue(
    session: AsyncSession,
    actor: str,
    venue_id: str,
    name: str,
    address: str | None,
    access: str | None = None,
    name_kana: str | None = None,
) -> None:
    """Create or change a venue; ``access`` (how to get there, shown to residents) and
    ``name_kana`` (the name's reading, as typed: folded to hiragana here, blank for none) too.
    Invalid on ``name_kana`` when the reading is not kana."""
    try:
        reading = venue_kana(name_kana)
    except ReadingError as exc:
        raise Invalid("name_kana", exc.message, exc.code, exc.message_en) from None
    t = tables.venue
    values = {"name": name, "name_kana": reading, "address": address, "access": access}
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
        raise Conflict("この会場のこの日の相談会は既にあります", field="event_date")
    await audit.record(session, actor, "event.create", target=event_id)
    return event_id


async def set_late_intake(
    session: AsyncSession, actor: str, event_id: str, reason: str | None
) -> dict[str, Any]:
    """An admin gives the event leave to take residents in on other days (``reason``), or takes
    it back (``None``). The reason stays on the event; the log records who and when (not the
    words, which are free text)."""
    t = tables.consultation_event
    text = (reason or "").strip()
    if reason is not None and not text:
        raise Invalid("reason", "日付外の受付を許可する理由を入力してください")
    values = (
        {"late_intake_reason": text, "late_intake_by": actor, "late_intake_at": utcnow()}
        if text
        else {"late_intake_reason": None, "late_intake_by": None, "late_intake_at": None}
    )
    changed = await session.execute(
        update(t).where(t.c.event_id == event_id).values(**values).returning(t.c.event_id)
    )
    if changed.first() is None:
        raise NotFound(event_id)
    action = "event.late_intake.allow" if text else "event.late_intake.end"
    await audit.record(session, actor, action, target=event_id)
    event = await get_event(session, event_id)
    assert event is not None
    return event


async def events_taking_residents_in(
    session: AsyncSession, today: date, *, also_on: date | None = None
) -> list[dict[str, Any]]:
    """Today's events, and others an admin opened for late intake: what the form offers; with
    ``also_on``, that day's too (the day a case kept offline was taken on, ADR 32)."""
    e, v = tables.consultation_event, tables.venue
    days = [today] if also_on is None else [today, also_on]
    stmt = (
        select(e, v.c.name.label("venue_name"))
        .join(v, v.c.venue_id == e.c.venue_id)
        .where(e.c.event_date.in_(days) | e.c.late_intake_reason.is_not(None))
        .order_by(e.c.event_date.desc(), e.c.venue_id)
        .limit(200)
    )
    return [dict(row._mapping) for row in await session.execute(stmt)]


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


#: An event with its venue's name; built once (it is read by every case taken in).
_EVENT = (
    select(tables.consultation_event, tables.venue.c.name.label("venue_name"))
    .join(tables.venue, tables.venue.c.venue_id == tables.consultation_event.c.venue_id)
    .where(tables.consultation_event.c.event_id == bindparam("event_id"))
)


async def get_event(session: AsyncSession, event_id: str) -> dict[str, Any] | None:
    row = (await session.execute(_EVENT, {"event_id": event_id})).first()
    return None if row is None else dict(row._mapping)


# --- second factor ------------------------------------------------------------------------------


#: How long a second factor being set up waits, on the server, for its first code.
TOTP_SETUP_TTL = timedelta(minutes=10)


async def totp_setup_secret(
    session: AsyncSession, username: str, master: MasterKeys, now: datetime | None = None
) -> str:
    """The secret the set-up page shows: the one already waiting for this person if it has not
    expired (a reload shows the same QR code), else a new one. It is kept sealed by the master
    key on the person's row, for ``TOTP_SETUP_TTL`` from now; it never leaves the server but on
    that page."""
    now = now or utcnow()
    secret = await _pending_totp(session, username, master, now) or totp.new_secret()
    t = tables.staff_user
    await session.execute(
        update(t)
        .where(t.c.username == username)
        .values(totp_pending=totp.seal(master, secret), totp_pending_until=now + TOTP_SETUP_TTL)
    )
    return secret


async def _pending_totp(
    session: AsyncSession, username: str, master: MasterKeys, now: datetime
) -> str | None:
    t = tables.staff_user
    row = (
        await session.execute(
            select(t.c.totp_pending, t.c.totp_pending_until).where(t.c.username == username)
        )
    ).first()
    if row is None or not row.totp_pending or row.totp_pending_until is None:
        return None
    if row.totp_pending_until <= now:
        return None
    try:
        return totp.unseal(master, row.totp_pending)
    except ContactSealError:  # sealed under a master key rotated out since: start again
        return None


async def set_totp(
    session: AsyncSession,
    username: str,
    code: str,
    master: MasterKeys,
    *,
    current_code: str | None = None,
    address: str = "",
    now: datetime | None = None,
) -> bool:
    """Turn the second factor on, once the person has shown their app gives the right code for
    the secret waiting for them (``totp_setup_secret``). The secret is stored sealed, the one
    waiting is cleared, and the code shown is taken (it cannot sign in again).

    Someone who already has a factor replaces it only with a code from their current app
    (``current_code``), taken as at sign-in: a session left open is not enough to move the
    factor to another phone. A wrong one counts as a failed sign-in from ``address``
    (``domain.login_throttle``), so it cannot be guessed; while a wait runs, ``LoginLocked``.
    Returns False when the current code was refused (the count is kept: the caller commits)."""
    now = now or utcnow()
    secret = await _pending_totp(session, username, master, now)
    if secret is None:
        raise Invalid(
            "otp",
            "設定の有効期限が切れました。新しいQRコードを表示しましたので、読み取ってから"
            "確認コードを入力してください",
        )
    step = totp.matching_step(secret, code, now)
    if step is None:
        raise Invalid("otp", "確認コードが違います。アプリに表示されている6桁を入力してください")
    t = tables.staff_user
    row = (await session.execute(select(t).where(t.c.username == username))).one()
    if row.totp_secret:
        counts = await _counts(session, username, address, now)
        until = throttle.retry_at(counts, now)
        if until is not None:
            raise LoginLocked(until)
        if not await _take_code(session, row, current_code, master, now):
            await _count_failure(session, counts, username, address, now)
            return False
    await session.execute(
        update(t)
        .where(t.c.username == username)
        .values(
            totp_secret=totp.seal(master, secret),
            totp_last_step=step,
            totp_pending=None,
            totp_pending_until=None,
            updated_at=func.now(),
        )
    )
    replaced = bool(row.totp_secret)
    await audit.record(
        session, username, "auth.totp_replaced" if replaced else "auth.totp_enabled",
        target=username,
    )  # fmt: skip
    return True


async def remove_totp(
    session: AsyncSession,
    actor: str,
    username: str,
    *,
    outbox: OutboxWriter,
    token_ttl_seconds: int,
) -> StaffSessionsRevoked | None:
    """An admin takes a staff member's second factor off (a lost or replaced phone): every
    sign-in of theirs ends, and their next one sets a factor up again (an admin must; others
    may). None when they had none (nothing changes)."""
    t = tables.staff_user
    removed = (
        await session.execute(
            update(t)
            .where(t.c.username == username, t.c.totp_secret.is_not(None))
            .values(
                totp_secret=None,
                totp_last_step=None,
                totp_pending=None,
                totp_pending_until=None,
                updated_at=func.now(),
            )
            .returning(t.c.username)
        )
    ).first()
    if removed is None:
        await current_version(session, username)  # NotFound for an unknown account
        return None
    await audit.record(session, actor, "staff.totp_removed", target=username)
    return await revoke(session, outbox, username, token_ttl_seconds=token_ttl_seconds)
