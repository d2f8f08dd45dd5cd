"""Event invitations: staff import the list of borrowers who agreed to be invited, for one event.

Each valid row becomes one ``event_invitation`` delivery on the borrower's chosen channel,
with their details sealed on the delivery row (opened only to send). The dedup key is
(event, borrower, template), so importing the same list twice invites nobody twice.

Opt-outs are honoured and recorded: a borrower marked as opted out gets a ``suppressed``
delivery with reason ``opted_out``, an invitation already scheduled for them is withdrawn,
and their reference joins ``opt_out``, which every later import honours too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.notify.adapters.orm import SCHEDULED, SUPPRESSED, TRANSIENT_FAILURE
from tsunagu.notify.domain.invitations import InvitationRow, RowError, parse_invitation_csv
from tsunagu.notify.domain.planning import dedup_key
from tsunagu.notify.domain.quiet_hours import send_time
from tsunagu.notify.service_layer import journal
from tsunagu.notify.service_layer.recipients import BORROWER, OPTED_OUT
from tsunagu.notify.service_layer.scheduling import Notify, add_delivery, add_suppressed
from tsunagu.shared.crypto import ContactSealer
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

TEMPLATE = "event_invitation"


@dataclass(frozen=True)
class EventDetails:
    """What the invitation tells borrowers about the consultation event."""

    event_id: str
    event_date: date
    opens_at: str  # "10:00"
    closes_at: str
    venue_name: str
    venue_address: str


@dataclass(frozen=True)
class ImportSummary:
    import_id: str
    event_id: str
    scheduled: int  # new invitations
    already_scheduled: int  # rows invited by an earlier import of the same list
    opted_out: int
    errors: list[RowError] = field(default_factory=list)


#: The residents' page in the borrower's language (``?lang=``; Japanese is the default).
_PAGE_LANG = {"ja": "", "ja_easy": "easy", "en": "en", "zh": "zh", "vi": "vi"}


def events_url(notify: Notify, language: str) -> str:
    """Where the invitation sends the borrower to read about the coming events."""
    base = notify.config.events_url or f"{notify.staff_url.rstrip('/')}/events"
    lang = _PAGE_LANG.get(language, "")
    return f"{base}?lang={lang}" if lang else base


def invitation_key(event_id: str, borrower_ref: str) -> str:
    return dedup_key(f"invitation:{event_id}", recipient_id_of(borrower_ref), TEMPLATE)


def recipient_id_of(borrower_ref: str) -> str:
    return f"{BORROWER}:{borrower_ref}"


async def import_invitations(
    notify: Notify,
    session: AsyncSession,
    sealer: ContactSealer,
    raw: bytes,
    event: EventDetails,
    imported_by: str,
) -> ImportSummary:
    """Schedule an invitation per valid row; report the others by line and column."""
    parsed = parse_invitation_csv(raw)
    now = notify.now()
    import_id = str(uuid.uuid4())
    refs = [r.borrower_ref for r in parsed.rows] + parsed.opted_out
    o = notify.tables.opt_out
    opted_before = set(
        (await session.execute(select(o.c.borrower_ref).where(o.c.borrower_ref.in_(refs))))
        .scalars()
        .all()
    )

    scheduled = already = 0
    opted_out = list(parsed.opted_out)
    for ref in parsed.opted_out:
        await _record_opt_out(notify, session, ref, import_id, event.event_id, now)
    for row in parsed.rows:
        if row.borrower_ref in opted_before:
            opted_out.append(row.borrower_ref)
            await _record_opt_out(notify, session, row.borrower_ref, import_id, event.event_id, now)
            continue
        added = await add_delivery(
            notify, session, _invitation(row, event, import_id, sealer, notify, now), now
        )
        if added:
            scheduled += 1
        else:
            already += 1

    errors = [{"line": e.line, "field": e.field, "message": e.message_ja} for e in parsed.errors]
    await session.execute(
        notify.tables.invitation_import.insert().values(
            id=import_id,
            event_id=event.event_id,
            imported_by=imported_by,
            imported_at=now,
            scheduled=scheduled,
            opted_out=len(opted_out),
            errors=errors,
        )
    )
    log.info(
        "invitations_imported",
        import_id=import_id,
        event_id=event.event_id,
        scheduled=scheduled,
        already_scheduled=already,
        opted_out=len(opted_out),
        rejected_rows=len({e.line for e in parsed.errors}),
    )
    return ImportSummary(
        import_id, event.event_id, scheduled, already, len(opted_out), parsed.errors
    )


def _invitation(
    row: InvitationRow,
    event: EventDetails,
    import_id: str,
    sealer: ContactSealer,
    notify: Notify,
    now: datetime,
) -> dict[str, Any]:
    contact = {
        "name": row.name,
        "name_kana": row.name_kana,
        "phone": row.phone,
        "email": row.email,
        "address": row.address,
    }
    return {
        "dedup_key": invitation_key(event.event_id, row.borrower_ref),
        "source_event_id": import_id,
        "recipient_kind": BORROWER,
        "recipient_ref": row.borrower_ref,
        "template": TEMPLATE,
        "channels": [row.channel.value],
        "language": row.language.value,
        "case_id": None,
        "variables": {
            "event_date": event.event_date.isoformat(),
            "opens_at": event.opens_at,
            "closes_at": event.closes_at,
            "venue_name": event.venue_name,
            "venue_address": event.venue_address,
            "council_name": notify.config.council_name,
            "council_phone": notify.config.council_phone,
            "events_url": events_url(notify, row.language.value),
        },
        "contact_sealed": sealer.seal(contact),
        "not_before": send_time(now),  # never at night, like every resident message
    }


async def _record_opt_out(
    notify: Notify,
    session: AsyncSession,
    ref: str,
    import_id: str,
    event_id: str,
    now: datetime,
) -> None:
    o, d = notify.tables.opt_out, notify.tables.delivery
    await session.execute(
        insert(o)
        .values(borrower_ref=ref, import_id=import_id, recorded_at=now)
        .on_conflict_do_nothing(index_elements=[o.c.borrower_ref])
    )
    key = invitation_key(event_id, ref)
    values = {
        "dedup_key": key,
        "source_event_id": import_id,
        "recipient_kind": BORROWER,
        "recipient_ref": ref,
        "template": TEMPLATE,
    }
    if await add_suppressed(notify, session, values, OPTED_OUT, now):
        return
    # Invited by an earlier import and not sent yet: withdraw the invitation.
    withdrawn = (
        await session.execute(
            update(d)
            .where(d.c.dedup_key == key, d.c.status.in_((SCHEDULED, TRANSIENT_FAILURE)))
            .values(status=SUPPRESSED, reason=OPTED_OUT, next_attempt_at=None, updated_at=now)
            .returning(*d.c)
        )
    ).first()
    if withdrawn is not None:
        await journal.record(
            session,
            notify.tables,
            notify.outbox,
            withdrawn._mapping,
            status=SUPPRESSED,
            attempt=0,
            channel=journal.NO_CHANNEL,
            error=OPTED_OUT,
            at=now,
        )
