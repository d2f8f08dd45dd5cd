"""Notify's own topic, ``intake.contact.v1`` (ADR 25): the twin of each case event notify needs.

Every ``case_created``, ``consent_changed`` and ``resident_erased`` intake adds to the outbox
for ``intake.case.v1`` is followed, in the same transaction, by its twin for notify: the same
event with only what notify needs (the sealed contact, the consent's codes, who took the case
in), keyed by the case id. The outbox publishes rows in the order they were added, so notify
reads its topic in the order intake made the changes. The twin names the case event it tells
(``causation_id``) and was made when it was (``occurred_at``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.shared.contracts import intake as contract
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import INTAKE_CASE, INTAKE_CONTACT
from tsunagu.shared.outbox import OutboxWriter


async def publish_case_event(
    session: AsyncSession, outbox: OutboxWriter, case_id: str, envelope: Envelope
) -> None:
    """Add ``envelope`` for ``intake.case.v1`` and, if notify needs it, its twin for
    ``intake.contact.v1``."""
    await outbox.add(
        session,
        topic=INTAKE_CASE.name,
        aggregatetype="case",
        aggregateid=case_id,
        envelope=envelope,
    )
    twin = contact_twin(outbox, envelope)
    if twin is not None:
        await outbox.add(
            session,
            topic=INTAKE_CONTACT.name,
            aggregatetype="case",
            aggregateid=case_id,
            envelope=twin,
        )


def contact_twin(outbox: OutboxWriter, envelope: Envelope) -> Envelope | None:
    """The twin of a case event for notify, or None if notify needs nothing of it."""
    told = contract.CONTACT_TWINS.get(envelope.event_type)
    if told is None:
        return None
    event_type, model = told
    data = model.model_validate(envelope.data).model_dump(mode="json")
    return outbox.twin(envelope, event_type, data)
