"""A resident's erasure and disclosure, as far as notify is concerned (ADR 12).

On ``resident_erased``: the case's contact details and parked events are deleted, deliveries
not yet made are cancelled (suppressed, reason ``erased``), letters and call sheets lose their
sealed content, and the case's tombstone is kept. Delivery rows and attempts stay, holding no
personal data: the counts of messages per template, channel and status.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.notify.adapters.orm import DUE_STATUSES, SUPPRESSED, tables
from tsunagu.notify.service_layer import handoff
from tsunagu.notify.service_layer.scheduling import flush_plans, forget_case
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.envelope import Envelope, utcnow
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.crypto import ContactSealError, Sealer
from tsunagu.shared.runtime import record_erasure

ERASED = "erased"


async def on_resident_erased(session: AsyncSession, envelope: Envelope) -> None:
    erased = parse(envelope, intake.ResidentErased)
    case_id = erased.case_id
    if not await record_erasure(session, tables, case_id, erased.resident_id, erased.erased_at):
        return
    t = tables
    now = utcnow()
    await flush_plans(session)  # what this batch planned for the case is suppressed too
    forget_case(session, case_id)
    await session.execute(delete(t.case_contact).where(t.case_contact.c.case_id == case_id))
    await session.execute(delete(t.parked_event).where(t.parked_event.c.case_id == case_id))
    d = t.delivery
    suppressed = await session.execute(
        update(d)
        .where(d.c.case_id == case_id, d.c.status.in_(DUE_STATUSES))
        .values(
            status=SUPPRESSED, reason=ERASED, next_attempt_at=None, lease_token=None, updated_at=now
        )
        .returning(d.c.id)
    )
    # Leased to the sender by this transaction (ADR 27): not handed over after all.
    handoff.take_back(session, set(suppressed.scalars()))
    await session.execute(update(d).where(d.c.case_id == case_id).values(contact_sealed=None))
    await session.execute(
        update(t.letter).where(t.letter.c.case_id == case_id).values(document_sealed="")
    )
    await session.execute(
        update(t.phone_call).where(t.phone_call.c.case_id == case_id).values(entry_sealed="")
    )
    # The dev mail catcher's and SMS sink's copies of what was sent (dev mode only).
    a = t.delivery_attempt
    references = (
        select(a.c.reference)
        .join(d, d.c.id == a.c.delivery_id)
        .where(d.c.case_id == case_id, a.c.reference.is_not(None))
    )
    await session.execute(delete(t.dev_mail).where(t.dev_mail.c.message_id.in_(references)))
    await session.execute(delete(t.dev_sms).where(t.dev_sms.c.idempotency_key.in_(references)))


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(x._mapping) for x in result]


async def disclose(session: AsyncSession, resident_id: str, case_ids: list[str]) -> dict[str, Any]:
    """What notify holds on the resident's cases, the contact details still sealed
    (``reveal`` opens them once the session is closed)."""
    t = tables
    contacts = _rows(
        await session.execute(select(t.case_contact).where(t.case_contact.c.case_id.in_(case_ids)))
    )
    d = t.delivery
    deliveries = _rows(
        await session.execute(
            select(
                d.c.case_id, d.c.recipient_kind, d.c.template, d.c.channels, d.c.last_channel,
                d.c.status, d.c.reason, d.c.attempts, d.c.created_at, d.c.sent_at,
            )
            .where(d.c.case_id.in_(case_ids), d.c.recipient_kind == "resident")
            .order_by(d.c.created_at)
        )
    )  # fmt: skip
    staff_messages = _rows(
        await session.execute(
            select(d.c.case_id, d.c.recipient_kind, d.c.recipient_ref, d.c.template,
                   d.c.status, d.c.created_at, d.c.sent_at)
            .where(d.c.case_id.in_(case_ids), d.c.recipient_kind != "resident")
            .order_by(d.c.created_at)
        )
    )  # fmt: skip
    letters = _rows(
        await session.execute(
            select(t.letter.c.case_id, t.letter.c.template, t.letter.c.created_at,
                   t.letter.c.posted_at)
            .where(t.letter.c.case_id.in_(case_ids))
        )
    )  # fmt: skip
    calls = _rows(
        await session.execute(
            select(t.phone_call.c.case_id, t.phone_call.c.template, t.phone_call.c.created_at,
                   t.phone_call.c.done_at)
            .where(t.phone_call.c.case_id.in_(case_ids))
        )
    )  # fmt: skip
    return {
        "contacts": contacts,
        "deliveries": deliveries,
        "staff_messages": staff_messages,
        "letters": letters,
        "phone_calls": calls,
    }


async def reveal(sealer: Sealer, held: dict[str, Any]) -> dict[str, Any]:
    """The disclosure with the contact details opened (None once the resident's key is
    destroyed); asks intake for the key, with no transaction open."""
    sealed = [row.get("contact_sealed") for row in held["contacts"]]
    await sealer.prefetch(sealed)
    contacts = []
    for row, token in zip(held["contacts"], sealed, strict=True):
        opened = {k: v for k, v in row.items() if k != "contact_sealed"}
        try:
            opened["contact"] = await sealer.open(token) if token else None
        except ContactSealError:
            opened["contact"] = None
        contacts.append(opened)
    return {**held, "contacts": contacts}
