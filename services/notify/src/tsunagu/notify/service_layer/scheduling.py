"""From events to deliveries: what notify keeps of each case, and the messages each event owes.

Every handler runs inside the consumer's inbox transaction and only writes rows: a
``delivery`` per planned message (status ``scheduled``, due at ``not_before``) or a
``suppressed`` delivery recording a decision not to send. Nothing leaves the process here;
the sender (``service_layer.sender``) does the network I/O later, outside any consumer.

Two guards make one event one message: the inbox (the same event id is applied once) and the
unique ``dedup_key`` (event, recipient, template), which also holds for a replayed plan.

Notify reads its own topics (ADR 25): intake's ``intake.contact.v1`` and routing's
``routing.notify.v1``. They are not ordered with each other, so a routing event may arrive
before the case's ``contact_case_created``. When its plan needs the case (the resident's
consent, who took the case in), the event is parked and planned again as soon as the case
arrives. Events parked before notify had its own topics (``case_routed``, ``consent_changed``
...) are read by the same handlers: each twin's fields are its original's by the same names.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.notify.adapters.orm import (
    SCHEDULED,
    SENDING,
    SUPPRESSED,
    TRANSIENT_FAILURE,
    NotifyTables,
    cases_by_id,
)
from tsunagu.notify.config import Clock, NotifyConfig
from tsunagu.notify.domain.planning import (
    Plan,
    PlanningContext,
    RecipientKind,
    SuppressionReason,
    plan,
    plan_withdrawal_confirmation,
)
from tsunagu.notify.service_layer import handoff, journal
from tsunagu.notify.service_layer.handoff import Handoff
from tsunagu.notify.service_layer.recipients import resident_contact
from tsunagu.shared.contracts import intake, routing
from tsunagu.shared.contracts.codes import Language, Programme, ReferralStatus, SharingBasis
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.logs import get_logger
from tsunagu.shared.outbox import OutboxWriter
from tsunagu.shared.parking import park, take_parked
from tsunagu.shared.wakeup import notify_at_commit

log = get_logger(__name__)

#: Why a team's message about a case was not sent: the programme's referral was withdrawn.
REFERRAL_WITHDRAWN = "referral_withdrawn"

#: Routing's decisions (who holds the case, its coordinator) and status changes, and intake's
#: consent changes: on notify's own topics, or parked before it had them (ADR 25).
_DECISIONS = frozenset(
    {
        routing.NOTIFY_CASE_ROUTED,
        routing.NOTIFY_CASE_REROUTED,
        routing.CASE_ROUTED,
        routing.CASE_REROUTED,
    }
)
_STATUS_CHANGES = frozenset(
    {routing.NOTIFY_REFERRAL_STATUS_CHANGED, routing.REFERRAL_STATUS_CHANGED}
)
_CONSENT_CHANGES = frozenset({intake.CONTACT_CONSENT_CHANGED, intake.CONSENT_CHANGED})

#: Suppressions that only mean "notify has not heard of this case yet".
_CASE_NOT_YET_KNOWN = frozenset(
    {SuppressionReason.CONTACT_UNKNOWN, SuppressionReason.RECIPIENT_UNKNOWN}
)


@dataclass(frozen=True)
class Notify:
    """What the handlers need: tables, outbox, clock and the service's settings."""

    tables: NotifyTables
    outbox: OutboxWriter
    clock: Clock
    config: NotifyConfig
    staff_url: str
    #: This process's sender, when it runs here: deliveries due now are handed to it at
    #: commit, already leased (ADR 27).
    handoff: Handoff | None = None

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the notify clock must return timezone-aware datetimes")
        return now

    def context(self, event_id: str, case: Mapping[str, Any] | None) -> PlanningContext:
        resident = None
        if case is not None:
            resident = resident_contact(case)
        return PlanningContext(
            event_id=event_id,
            now=self.now(),
            staff_url=self.staff_url,
            council_name=self.config.council_name,
            council_phone=self.config.council_phone,
            resident=resident,
            intake_staff=case["taken_by"] if case is not None else None,
            coordinator=_programme(case.get("coordinator")) if case is not None else None,
            webhook_teams=frozenset(Programme(p) for p in self.config.webhooks),
            contact_promise_days=self.config.contact_promise_days,
        )


# --- intake: what notify keeps of a case ----------------------------------------------------


async def on_case_created(notify: Notify, session: AsyncSession, envelope: Envelope) -> None:
    """Keep the sealed contact and consent, then apply and plan what was waiting for this case.

    A ``case_created`` met again (a replay, a re-publish) never overwrites a consent made after
    it: the consent held carries the time intake made it (``consent_updated_at``)."""
    case = parse(envelope, intake.ContactCaseCreated)
    now = notify.now()
    made = envelope.occurred_at
    state: dict[str, Any] = {"contact_sealed": case.contact_sealed, **_consent_values(case.consent)}
    t = notify.tables.case_contact
    inserted = await session.execute(
        insert(t)
        .values(
            case_id=case.case_id,
            case_number=case.case_number,
            taken_by=case.taken_by,
            created_at=now,
            updated_at=now,
            consent_updated_at=made,
            **state,
        )
        .on_conflict_do_nothing(index_elements=[t.c.case_id])
        .returning(t.c.case_id)
    )
    if inserted.first() is None:
        await session.execute(
            update(t)
            .where(t.c.case_id == case.case_id)
            .values(case_number=case.case_number, taken_by=case.taken_by, updated_at=now)
        )
        await _hold_consent(notify, session, case.case_id, state, made)
    forget_case(session, case.case_id)
    await _plan_parked(notify, session, case.case_id)


async def on_consent_changed(notify: Notify, session: AsyncSession, envelope: Envelope) -> None:
    """New channels, time, language or basis; later sends read them (see the sender).

    For a case not known yet (its ``case_created`` dead-lettered and replayed later, or a
    replay that starts in the middle) the change is parked and applied when the case arrives;
    a change older than the consent held is ignored."""
    change = parse(envelope, intake.ContactConsentChanged)
    if await load_case(session, notify.tables, change.case_id) is None:
        await park(session, notify.tables.parked_event, envelope, change.case_id, notify.now())
        return
    state: dict[str, Any] = _consent_values(change.consent)
    if change.withdrawn:
        # Rule 7: the resident is contacted no further (the sender checks this at send time,
        # so what is already planned for them is suppressed too).
        state["consent_withdrawn_at"] = envelope.occurred_at
    elif change.consent.basis is not SharingBasis.NONE:
        state["consent_withdrawn_at"] = None
    if change.contact_sealed:
        state["contact_sealed"] = change.contact_sealed
    held = await _hold_consent(notify, session, change.case_id, state, envelope.occurred_at)
    if held and change.withdrawn and change.confirmation_requested:
        # The one message the resident still gets: the confirmation they asked for.
        case = await load_case(session, notify.tables, change.case_id)
        assert case is not None
        planned = plan_withdrawal_confirmation(
            change.case_id, case["case_number"], notify.context(envelope.event_id, case)
        )
        await schedule(notify, session, planned, source_event_id=envelope.event_id)


async def _hold_consent(
    notify: Notify, session: AsyncSession, case_id: str, state: dict[str, Any], made: datetime
) -> bool:
    """Keep ``state`` unless the consent held was made after ``made`` (newer state wins);
    whether it was kept."""
    t = notify.tables.case_contact
    forget_case(session, case_id)
    result = await session.execute(
        update(t)
        .where(
            t.c.case_id == case_id,
            or_(t.c.consent_updated_at.is_(None), t.c.consent_updated_at <= made),
        )
        .values(updated_at=notify.now(), consent_updated_at=made, **state)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        log.info("older_consent_ignored", case_id=case_id)
        return False
    return True


def _consent_values(consent: intake.Consent) -> dict[str, Any]:
    return {
        "at_risk": consent.at_risk,
        "safe_channel": consent.safe_channel.value if consent.safe_channel else None,
        "channels": [c.value for c in consent.contact_channels],
        "contact_time": consent.contact_time.value,
        "language": consent.language.value,
        "sharing_basis": consent.basis.value,
    }


# --- routing and food: the messages an event causes ------------------------------------------


async def on_event(notify: Notify, session: AsyncSession, envelope: Envelope) -> None:
    """Plan ``envelope``'s messages and schedule them (``ValidationError`` → DLQ)."""
    case_id = envelope.data.get("case_id")
    if isinstance(case_id, str):
        await _remember_coordinator(notify, session, envelope)
        await _remember_holders(notify, session, envelope)
    case = await load_case(session, notify.tables, case_id) if isinstance(case_id, str) else None
    planned = plan(envelope.event_type, envelope.data, notify.context(envelope.event_id, case))
    if case is None and any(s.reason in _CASE_NOT_YET_KNOWN for s in planned.suppressed):
        await _park(notify, session, envelope, str(case_id))
        return
    await schedule(notify, session, planned, source_event_id=envelope.event_id)


async def _remember_holders(notify: Notify, session: AsyncSession, envelope: Envelope) -> None:
    """Keep which programme holds the case in which status (routing's events): the access rule
    for programme members' delivery lists. A referral withdrawn from a programme also cancels
    the messages still owed to that programme's team about the case (they carry its details)."""
    data = envelope.data
    case_id = str(data.get("case_id"))
    rows: list[tuple[str, str]] = []
    if envelope.event_type in _DECISIONS:
        rows = [(str(r["programme"]), str(r["status"])) for r in data.get("referrals", [])]
    elif envelope.event_type in _STATUS_CHANGES:
        rows = [(str(data.get("programme")), str(data.get("status")))]
    if not rows:
        return
    t = notify.tables.case_programme
    now = notify.now()
    # One statement for all of them, each programme once (the last wins, as one by one); an
    # executemany of one cached statement, written as one multi-row insert (``.values([...])``
    # would be compiled afresh at every call).
    held = dict(rows)
    statement = insert(t)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.case_id, t.c.programme],
            set_={"status": statement.excluded.status, "updated_at": statement.excluded.updated_at},
        ),
        [
            {"case_id": case_id, "programme": programme, "status": status, "updated_at": now}
            for programme, status in held.items()
        ],
    )
    for programme, status in held.items():
        if status == ReferralStatus.WITHDRAWN.value:
            await _cancel_team_messages(notify, session, case_id, programme)


async def _cancel_team_messages(
    notify: Notify, session: AsyncSession, case_id: str, programme: str
) -> None:
    await flush_plans(session)  # a message planned earlier in this batch is cancelled too
    d = notify.tables.delivery
    now = notify.now()
    # Not sent yet: scheduled, or leased to the sender by this very transaction (ADR 27).
    unsent = d.c.status.in_([SCHEDULED, TRANSIENT_FAILURE])
    if leased := handoff.tokens(session):
        unsent = or_(unsent, and_(d.c.status == SENDING, d.c.lease_token.in_(leased)))
    cancelled = (
        await session.execute(
            update(d)
            .where(
                d.c.case_id == case_id,
                d.c.recipient_kind.in_([RecipientKind.TEAM.value, RecipientKind.SUPERVISOR.value]),
                d.c.recipient_ref == programme,
                unsent,
            )
            .values(
                status=SUPPRESSED,
                reason=REFERRAL_WITHDRAWN,
                next_attempt_at=None,
                lease_token=None,
                updated_at=now,
            )
            .returning(*d.c)
        )
    ).all()
    handoff.take_back(session, {row.id for row in cancelled})
    await journal.record_many(
        session,
        notify.tables,
        notify.outbox,
        [
            journal.Entry(
                dict(row._mapping),
                status=SUPPRESSED,
                attempt=0,
                channel=journal.NO_CHANNEL,
                error=REFERRAL_WITHDRAWN,
                at=now,
            )
            for row in cancelled
        ],
    )
    if cancelled:
        log.info(
            "team_messages_cancelled", case_id=case_id, programme=programme, count=len(cancelled)
        )


async def _remember_coordinator(notify: Notify, session: AsyncSession, envelope: Envelope) -> bool:
    """Keep the coordinator routing named for the case (who hears of declines and closures);
    whether the envelope named one."""
    if envelope.event_type not in _DECISIONS:
        return False
    coordinator = envelope.data.get("coordinator")
    t = notify.tables.case_contact
    case_id = str(envelope.data.get("case_id"))
    # The case as it now stands comes back with the update (none: not known yet).
    row = (
        await session.execute(
            update(t)
            .where(t.c.case_id == case_id)
            .values(coordinator=coordinator if isinstance(coordinator, str) else None)
            .returning(*t.c)
        )
    ).first()
    _held_cases(session)[case_id] = row._mapping if row is not None else None
    return True


async def load_case(
    session: AsyncSession, tables: NotifyTables, case_id: str
) -> Mapping[str, Any] | None:
    """The case's contact and consent as this transaction sees them: read once per
    transaction (or once for a whole batch, ``prepare_cases``), forgotten when changed."""
    held = _held_cases(session)
    if case_id in held:
        return held[case_id]
    t = tables.case_contact
    row = (await session.execute(select(t).where(t.c.case_id == case_id))).first()
    held[case_id] = row._mapping if row is not None else None
    return held[case_id]


async def prepare_cases(tables: NotifyTables, session: AsyncSession, batch: list[Envelope]) -> None:
    """Read the cases of a consumer's batch in one query, for ``load_case`` (ADR 22)."""
    held = _held_cases(session)
    wanted = {
        case_id
        for e in batch
        if isinstance(case_id := e.data.get("case_id"), str) and case_id not in held
    }
    if not wanted:
        return
    for row in await session.execute(cases_by_id(tables.case_contact), {"ids": sorted(wanted)}):
        held[row.case_id] = row._mapping
    for case_id in wanted:
        held.setdefault(case_id, None)


def forget_case(session: AsyncSession, case_id: str) -> None:
    """The case's row is changing in this transaction: the next ``load_case`` reads it."""
    _held_cases(session).pop(case_id, None)


_HELD_CASES = "tsunagu_notify_cases"  # session.info key: (the transaction, the cases read in it)


def _held_cases(session: AsyncSession) -> dict[str, Mapping[str, Any] | None]:
    """Cases read in the session's current transaction (forgotten with it)."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return {}  # not in a transaction: nothing to keep it with
    held: tuple[object, dict[str, Mapping[str, Any] | None]] | None = session.info.get(_HELD_CASES)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_HELD_CASES] = held
    return held[1]


async def schedule(
    notify: Notify, session: AsyncSession, planned: Plan, *, source_event_id: str
) -> None:
    """Write a plan: its deliveries in one insert, its decisions not to send in another.

    Inside a consumer's batch (``prepare_batch``) the plans of the whole batch are written
    together when its handlers are done (``finish_batch``), or earlier, when a handler is about
    to change deliveries (``flush_plans``)."""
    held = _collecting(session)
    if held is not None:
        held.append((planned, source_event_id))
        return
    await _write_plans(notify, session, [(planned, source_event_id)])


async def _write_plans(
    notify: Notify, session: AsyncSession, plans: list[tuple[Plan, str]]
) -> None:
    now = notify.now()
    await add_deliveries(
        notify,
        session,
        [
            {
                "dedup_key": intent.dedup_key,
                "source_event_id": source_event_id,
                "recipient_kind": intent.recipient_kind.value,
                "recipient_ref": intent.recipient_ref,
                "template": intent.template,
                "channels": [str(c) for c in intent.channels],
                "language": intent.language.value,
                "case_id": intent.case_id,
                "urgent": intent.urgent,
                "variables": dict(intent.variables),
                "not_before": intent.not_before,
            }
            for planned, source_event_id in plans
            for intent in planned.intents
        ],
        now,
    )
    await add_suppressions(
        notify,
        session,
        [
            (
                {
                    "dedup_key": decision.dedup_key,
                    "source_event_id": source_event_id,
                    "recipient_kind": decision.recipient_kind.value,
                    "recipient_ref": decision.recipient_ref,
                    "template": decision.template,
                    "case_id": decision.case_id,
                },
                decision.reason.value,
            )
            for planned, source_event_id in plans
            for decision in planned.suppressed
        ],
        now,
    )


async def prepare_batch(notify: Notify, session: AsyncSession, batch: list[Envelope]) -> None:
    """Before a consumer's batch: its cases in one query, and its plans kept to be written
    together at the end (ADR 22)."""
    await prepare_cases(notify.tables, session, batch)
    transaction = session.sync_session.get_transaction()
    if transaction is not None:
        session.info[_PLANS] = (transaction, notify, [])


async def finish_batch(session: AsyncSession) -> None:
    """After a consumer's batch, before it commits: write the plans it made."""
    await flush_plans(session)


async def flush_plans(session: AsyncSession) -> None:
    """Write the plans kept so far in this transaction (before deliveries are changed)."""
    held = session.info.get(_PLANS)
    if held is None or held[0] is not session.sync_session.get_transaction() or not held[2]:
        return
    plans = list(held[2])
    held[2].clear()
    await _write_plans(held[1], session, plans)


_PLANS = "tsunagu_notify_plans"  # session.info key: (the transaction, notify, its unwritten plans)


def _collecting(session: AsyncSession) -> list[tuple[Plan, str]] | None:
    """The plans kept to be written at the end of the batch; None outside a batch."""
    held = session.info.get(_PLANS)
    if held is None or held[0] is not session.sync_session.get_transaction():
        return None
    plans: list[tuple[Plan, str]] = held[2]
    return plans


def due_channel(schema: str | None) -> str:
    """The channel that wakes the sender: a delivery that is due now was scheduled."""
    return f"tsunagu_notify_due_{schema or 'public'}"


async def add_delivery(
    notify: Notify, session: AsyncSession, values: dict[str, Any], now: datetime
) -> str | None:
    """Schedule one delivery; None if its dedup key is already taken (nothing changes)."""
    return (await add_deliveries(notify, session, [values], now))[0]


async def add_deliveries(
    notify: Notify, session: AsyncSession, many: list[dict[str, Any]], now: datetime
) -> list[str | None]:
    """Schedule deliveries with one insert; for each its id, or None if its dedup key is
    already taken (nothing changes for it)."""
    if not many:
        return []
    d = notify.tables.delivery
    rows = [
        {
            "id": str(uuid.uuid4()),
            "status": SCHEDULED,
            "next_attempt_at": values["not_before"],
            "lease_token": None,
            "claimed_from": None,
            "created_at": now,
            "updated_at": now,
            "contact_sealed": None,
            **values,
        }
        for values in many
    ]
    # Due now, and a sender runs here with room: inserted leased to it, as its claim would
    # leave them, and handed to it at commit (ADR 27). The others are scheduled.
    handoff = notify.handoff
    room = handoff.room(session) if handoff is not None else 0
    token = str(uuid.uuid4())
    handing: set[str] = set()
    for row in rows:
        if len(handing) >= room:
            break
        if row["next_attempt_at"] <= now:
            lease = timedelta(seconds=notify.config.lease_seconds)
            row.update(
                status=SENDING,
                lease_token=token,
                next_attempt_at=now + lease,
                claimed_from=SCHEDULED,
            )
            handing.add(row["id"])
    if handoff is not None and handing:
        # Their room is taken while the insert runs, so that no other transaction takes it.
        with handoff.reserved(len(handing)):
            inserted = await _insert_new(session, d, rows, full=True)
        handoff.hold(session, [inserted[i] for i in handing if i in inserted], token)
    else:
        inserted = await _insert_new(session, d, rows)
    added: list[str | None] = []
    for row in rows:
        if row["id"] not in inserted:
            added.append(None)
            continue
        added.append(str(row["id"]))
        if row["id"] not in handing and row["next_attempt_at"] <= now:
            await notify_at_commit(session, due_channel(d.schema))
        log.info(
            "delivery_scheduled",
            delivery_id=row["id"],
            template=row["template"],
            recipient_kind=row["recipient_kind"],
            case_id=row.get("case_id"),
            not_before=row["not_before"].isoformat(),
            handed=row["id"] in handing,
        )
    return added


async def _insert_new(
    session: AsyncSession, d: Any, rows: list[dict[str, Any]], *, full: bool = False
) -> dict[str, Mapping[str, Any]]:
    """Insert delivery rows, ``ROWS_PER_INSERT`` to a statement; by id, those whose dedup key
    was not taken yet (a key twice among the rows: the first is kept), as written when
    ``full`` (else their ids only)."""
    inserted: dict[str, Mapping[str, Any]] = {}
    columns = tuple(d.c) if full else (d.c.id,)
    statement = insert(d).on_conflict_do_nothing(index_elements=[d.c.dedup_key]).returning(*columns)
    for start in range(0, len(rows), ROWS_PER_INSERT):
        # An executemany of one cached statement, written as one multi-row insert.
        written = await session.execute(statement, rows[start : start + ROWS_PER_INSERT])
        for row in written:
            inserted[row.id] = row._mapping
    return inserted


#: Delivery rows in one multi-row insert (well below PostgreSQL's limit on parameters).
ROWS_PER_INSERT = 500


async def add_suppressed(
    notify: Notify, session: AsyncSession, values: dict[str, Any], reason: str, now: datetime
) -> bool:
    """Record a decision not to send, once per dedup key, and publish it."""
    return (await add_suppressions(notify, session, [(values, reason)], now))[0]


async def add_suppressions(
    notify: Notify,
    session: AsyncSession,
    many: list[tuple[dict[str, Any], str]],
    now: datetime,
) -> list[bool]:
    """Record decisions not to send with one insert, each once per dedup key, and publish the
    ones recorded now; for each whether it was."""
    if not many:
        return []
    d = notify.tables.delivery
    rows = [
        {
            "id": str(uuid.uuid4()),
            "status": SUPPRESSED,
            "reason": reason,
            "channels": [],
            "language": Language.JA.value,
            "variables": {},
            "not_before": now,
            "next_attempt_at": None,
            "created_at": now,
            "updated_at": now,
            "case_id": None,
            "contact_sealed": None,
            "urgent": False,
            **values,
        }
        for values, reason in many
    ]
    inserted = await _insert_new(session, d, rows)
    recorded = [row for row in rows if row["id"] in inserted]
    await journal.record_many(
        session,
        notify.tables,
        notify.outbox,
        [
            journal.Entry(
                row,
                status=SUPPRESSED,
                attempt=0,
                channel=journal.NO_CHANNEL,
                error=row["reason"],
                at=now,
            )
            for row in recorded
        ],
    )
    for row in recorded:
        log.info(
            "delivery_suppressed",
            delivery_id=row["id"],
            template=row["template"],
            recipient_kind=row["recipient_kind"],
            case_id=row["case_id"],
            reason=row["reason"],
        )
    return [row["id"] in inserted for row in rows]


async def _park(notify: Notify, session: AsyncSession, envelope: Envelope, case_id: str) -> None:
    await park(session, notify.tables.parked_event, envelope, case_id, notify.now())


async def _plan_parked(notify: Notify, session: AsyncSession, case_id: str) -> None:
    """Apply the consent changes parked for the case (oldest first), then plan the rest."""
    parked = await take_parked(session, notify.tables.parked_event, case_id)
    if not parked:
        return
    for envelope in parked:
        if envelope.event_type in _CONSENT_CHANGES:
            await on_consent_changed(notify, session, envelope)
    case = await load_case(session, notify.tables, case_id)
    for envelope in parked:
        if envelope.event_type in _CONSENT_CHANGES:
            continue
        if await _remember_coordinator(notify, session, envelope):
            case = await load_case(session, notify.tables, case_id)
        planned = plan(envelope.event_type, envelope.data, notify.context(envelope.event_id, case))
        await schedule(notify, session, planned, source_event_id=envelope.event_id)
    log.info("parked_events_planned", case_id=case_id, count=len(parked))


def _programme(code: object) -> Programme | None:
    try:
        return Programme(str(code)) if code else None
    except ValueError:
        return None  # a code newer than this service: nobody to tell
