"""What staff see and do: deliveries and their attempts, failures, the letter queue, the call list.

Delivery views carry codes, statuses and error codes only: no address and no message text.
Letters and call sheets are opened from their sealed form only to be shown to staff, with no
database transaction open while the resident's key is fetched from intake.
"""

from __future__ import annotations

import email
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.policy import default
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.notify.adapters.orm import PERMANENT_FAILURE, SCHEDULED, NotifyTables
from tsunagu.shared import audit as chain_log
from tsunagu.shared.contracts.codes import NOT_HOLDING
from tsunagu.shared.crypto import ContactSealError, Sealer

DELIVERY_FIELDS = (
    "id",
    "case_id",
    "recipient_kind",
    "recipient_ref",
    "template",
    "channels",
    "language",
    "urgent",
    "status",
    "reason",
    "attempts",
    "last_channel",
    "last_error",
    "not_before",
    "next_attempt_at",
    "sent_at",
    "created_at",
)


def held_by(tables: NotifyTables, programmes: frozenset[str]) -> Any:
    """The cases one of ``programmes`` holds (routing's statuses, ``NOT_HOLDING`` excluded):
    the same access rule as intake's, over what notify heard from routing."""
    t = tables.case_programme
    return select(t.c.case_id).where(
        t.c.programme.in_(sorted(programmes)),
        t.c.status.not_in([s.value for s in NOT_HOLDING]),
    )


async def deliveries(
    session: AsyncSession,
    tables: NotifyTables,
    *,
    case_id: str | None = None,
    statuses: Sequence[str] = (),
    limit: int = 100,
    only_programmes: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """Deliveries, newest first, each with its attempts in order; with ``only_programmes``,
    only those about cases those programmes hold (a programme member's view)."""
    d, a = tables.delivery, tables.delivery_attempt
    query = select(*(d.c[f] for f in DELIVERY_FIELDS)).order_by(d.c.created_at.desc(), d.c.id)
    if only_programmes is not None:
        query = query.where(d.c.case_id.in_(held_by(tables, only_programmes)))
    if case_id is not None:
        query = query.where(d.c.case_id == case_id)
    if statuses:
        query = query.where(d.c.status.in_(statuses))
    rows = [dict(r._mapping) for r in (await session.execute(query.limit(limit))).all()]
    if not rows:
        return []
    attempts = (
        await session.execute(
            select(a.c.delivery_id, a.c.attempt, a.c.channel, a.c.status, a.c.error, a.c.at)
            .where(a.c.delivery_id.in_([r["id"] for r in rows]))
            .order_by(a.c.id)
        )
    ).all()
    by_delivery: dict[str, list[dict[str, Any]]] = {}
    for attempt in attempts:
        entry = dict(attempt._mapping)
        by_delivery.setdefault(entry.pop("delivery_id"), []).append(entry)
    for row in rows:
        row["attempt_log"] = by_delivery.get(row["id"], [])
    return rows


async def failures(
    session: AsyncSession,
    tables: NotifyTables,
    *,
    limit: int = 200,
    only_programmes: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    return await deliveries(
        session,
        tables,
        statuses=(PERMANENT_FAILURE,),
        limit=limit,
        only_programmes=only_programmes,
    )


async def retry(
    session: AsyncSession,
    tables: NotifyTables,
    delivery_id: str,
    now: datetime,
    *,
    only_programmes: frozenset[str] | None = None,
) -> bool:
    """Send a permanently failed delivery again, from its first channel (after a fix); a
    programme member only one about a case their programme holds."""
    d = tables.delivery
    scope = (
        [d.c.case_id.in_(held_by(tables, only_programmes))] if only_programmes is not None else []
    )
    result = await session.execute(
        update(d)
        .where(d.c.id == delivery_id, d.c.status == PERMANENT_FAILURE, *scope)
        .values(
            status=SCHEDULED,
            channel_index=0,
            channel_attempts=0,
            next_attempt_at=now,
            updated_at=now,
        )
        .returning(d.c.id)
    )
    return result.first() is not None


# --- letters --------------------------------------------------------------------------------


async def letters(
    session: AsyncSession, tables: NotifyTables, *, include_posted: bool = False
) -> list[dict[str, Any]]:
    t = tables.letter
    query = select(
        t.c.id,
        t.c.delivery_id,
        t.c.case_id,
        t.c.template,
        t.c.language,
        t.c.created_at,
        t.c.posted_at,
        t.c.posted_by,
    ).order_by(t.c.created_at, t.c.id)
    if not include_posted:
        query = query.where(t.c.posted_at.is_(None))
    return [dict(r._mapping) for r in (await session.execute(query)).all()]


async def letter_document(
    sessions: async_sessionmaker[AsyncSession],
    tables: NotifyTables,
    sealer: Sealer,
    letter_id: str,
    viewer: str,
) -> str | None:
    """The letter's print-ready HTML (name and address opened); the view is audited.

    Three steps, so that no transaction is open while the resident's key is asked of intake
    (up to its timeout when intake is slow or down): the sealed letter is read in a short
    transaction, opened with none, and the view recorded in a transaction of its own. The
    letter is returned only once that entry is written. ``KeyUnavailable`` (intake not
    answering) is raised; an erased resident's letter is None, and is not audited."""
    t = tables.letter
    async with sessions() as session, session.begin():
        row = (
            await session.execute(
                select(t.c.document_sealed, t.c.case_id).where(t.c.id == letter_id)
            )
        ).first()
    if row is None or not row.document_sealed:
        return None
    try:
        html = str((await sealer.open(row.document_sealed))["html"])
    except ContactSealError:
        return None  # the resident was erased: the letter is gone with their key
    seen = [row.case_id] if row.case_id else []
    async with sessions() as session, session.begin():
        await audit_view(session, tables, viewer, "notify.letter_view", seen, letter_id=letter_id)
    return html


async def audit_view(
    session: AsyncSession,
    tables: NotifyTables,
    viewer: str,
    action: str,
    case_ids: list[str],
    **detail: Any,
) -> None:
    """Record who opened which cases' sealed details, in the caller's transaction (ADR 13)."""
    await chain_log.record(
        session,
        tables.audit_log,
        viewer,
        action,
        case_id=case_ids[0] if len(case_ids) == 1 else None,
        case_ids=case_ids,
        **detail,
    )


async def mark_letter_posted(
    session: AsyncSession, tables: NotifyTables, letter_id: str, by: str, now: datetime
) -> bool:
    t = tables.letter
    result = await session.execute(
        update(t)
        .where(t.c.id == letter_id, t.c.posted_at.is_(None))
        .values(posted_at=now, posted_by=by)
        .returning(t.c.id)
    )
    return result.first() is not None


# --- calls ----------------------------------------------------------------------------------


async def calls(
    sessions: async_sessionmaker[AsyncSession],
    tables: NotifyTables,
    sealer: Sealer,
    viewer: str,
    *,
    include_done: bool = False,
) -> list[dict[str, Any]]:
    """Calls to make, with the number, name and script opened for the staff page; audited
    with the case ids shown (an invitation's call has none; ``calls`` counts every entry).

    As for a letter: the rows are read in a short transaction, their residents' keys fetched
    in one request and the entries opened with no transaction open, and the view recorded in
    a transaction of its own before the list is returned."""
    t = tables.phone_call
    query = select(t).order_by(t.c.created_at, t.c.id)
    if not include_done:
        query = query.where(t.c.done_at.is_(None))
    async with sessions() as session, session.begin():
        rows = [dict(row._mapping) for row in (await session.execute(query)).all()]
    await sealer.prefetch(row["entry_sealed"] for row in rows)
    out = []
    for entry in rows:
        try:
            entry.update(await sealer.open(entry.pop("entry_sealed")))
        except ContactSealError:
            continue  # the resident was erased
        out.append(entry)
    seen = sorted({e["case_id"] for e in out if e.get("case_id")})
    async with sessions() as session, session.begin():
        await audit_view(session, tables, viewer, "notify.calls_view", seen, calls=len(out))
    return out


async def mark_call_done(
    session: AsyncSession, tables: NotifyTables, call_id: str, by: str, now: datetime
) -> bool:
    t = tables.phone_call
    result = await session.execute(
        update(t)
        .where(t.c.id == call_id, t.c.done_at.is_(None))
        .values(done_at=now, done_by=by)
        .returning(t.c.id)
    )
    return result.first() is not None


# --- dev mail -------------------------------------------------------------------------------


async def dev_mail(
    session: AsyncSession, tables: NotifyTables, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Caught emails, newest first, with their plain-text body for reading."""
    t = tables.dev_mail
    rows = await session.execute(select(t).order_by(t.c.id.desc()).limit(limit))
    out = []
    for row in rows.all():
        entry = dict(row._mapping)
        message = email.message_from_string(entry["content"], policy=default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        entry["text"] = body.get_content() if isinstance(body, EmailMessage) else ""
        entry["to"] = str(message.get("To", ""))
        out.append(entry)
    return out


async def dev_sms(
    session: AsyncSession, tables: NotifyTables, *, limit: int = 100
) -> list[dict[str, Any]]:
    """SMS the dev sink received, newest first."""
    t = tables.dev_sms
    rows = await session.execute(select(t).order_by(t.c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows.all()]
