"""Taking a resident in and changing a case: create, correct the facts, consent, board status.

Every function runs inside the caller's transaction, so a case, its resident, its outbox event
and its audit entry are committed together or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Insert, Update, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.domain import access, intake_day
from tsunagu.intake.domain.case_input import CaseInput
from tsunagu.intake.domain.matching import kana_search_key
from tsunagu.intake.domain.normalize import age_on, phone_digits
from tsunagu.intake.domain.safe_contact import at_risk, contact_for_notify, safe_channel
from tsunagu.intake.service_layer import audit, staff
from tsunagu.intake.service_layer.contact_topic import publish_case_event
from tsunagu.intake.service_layer.errors import Conflict, Forbidden, Invalid, NotFound
from tsunagu.intake.service_layer.keys import KeyStore
from tsunagu.intake.service_layer.views import referral_statuses
from tsunagu.shared import idempotency
from tsunagu.shared.contracts import intake as contract
from tsunagu.shared.contracts.codes import (
    Concern,
    ConsentGivenBy,
    ConsentMethod,
    ContactChannel,
    SharingBasis,
    StaffRole,
)
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.crypto import Purpose
from tsunagu.shared.faults import is_transient
from tsunagu.shared.outbox import OutboxWriter

BoardStatus = Literal["waiting", "in_consultation", "done"]
BOARD_STATUSES: tuple[BoardStatus, ...] = ("waiting", "in_consultation", "done")

#: contract.CaseFacts allows ages up to this; older is a data-entry error.
_MAX_CONTRACT_AGE = 130


class CaseNumbers:
    """Reception numbers, ``K-YYYYMMDD-NNNN``, counted per event day.

    A number is taken in a short transaction of its own, not in the case's: the day's counter
    row is locked only for that one statement and its commit, so cases taken at the same time
    do not queue behind each other's whole transaction. The price: a case whose transaction
    fails after its number was taken leaves a gap in the day's numbers (they stay unique and
    rising; ADR 8).

    It has a small connection pool of its own. Taking the number from the request's pool
    would deadlock under load: every request holding one connection, waiting for a second.
    The statement runs in autocommit mode: one round trip, no BEGIN and COMMIT around it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def take(self, day: date) -> str:
        c = tables.case_number_counter
        stmt = (
            insert(c)
            .values(day=day, last_number=1)
            .on_conflict_do_update(
                index_elements=[c.c.day], set_={"last_number": c.c.last_number + 1}
            )
            .returning(c.c.last_number)
        )
        number = await self._take_once_more_if_dropped(stmt)
        return f"K-{day:%Y%m%d}-{number:04d}"

    async def _take_once_more_if_dropped(self, stmt: Any) -> int:
        """A connection the server dropped (a restart, a failover) fails its statement and
        SQLAlchemy discards the pool: try once more on a fresh connection. Should the dropped
        statement have counted, its number is a gap (ADR 8). A second failure propagates (the
        request answers 503 if it is transient, ADR 10)."""
        try:
            async with self._autocommit.connect() as connection:
                return int((await connection.execute(stmt)).scalar_one())
        except Exception as exc:
            if not is_transient(exc):
                raise
        async with self._autocommit.connect() as connection:
            return int((await connection.execute(stmt)).scalar_one())

    async def start(self) -> None:
        """Nothing to start: connections are opened when a number is first taken."""

    async def stop(self) -> None:
        await self.engine.dispose()


@dataclass(frozen=True)
class Ports:
    """What the case commands use besides the caller's transaction: the outbox, the residents'
    key store and the reception numbers."""

    outbox: OutboxWriter
    keys: KeyStore
    numbers: CaseNumbers


@dataclass(frozen=True)
class Created:
    case_id: str
    case_number: str
    replayed: bool = False


# --- taking a resident in ---------------------------------------------------------------------


def body_hash(body: CaseInput, taken_by: str, resident_id: str | None) -> str:
    """What an Idempotency-Key is bound to: who sent which (validated) case."""
    return idempotency.request_hash(
        {"by": taken_by, "resident_id": resident_id, "body": body.model_dump(mode="json")}
    )


async def create_case(
    session: AsyncSession,
    ports: Ports,
    body: CaseInput,
    *,
    taken_by: str,
    today: date,
    idempotency_key: str | None = None,
    resident_id: str | None = None,
    taken_offline_at: datetime | None = None,
) -> Created:
    """Record the case, its resident and household, and ``case_created`` in the outbox.

    Only at an event held ``today`` (in the council's time zone), or one whose day the case was
    taken offline on (``taken_offline_at``, the device's word, within a window), unless an admin
    gave the event leave for late intake (``intake_day.admission``); a retry of a case made on
    the day still gets that case.

    With an idempotency key the first request creates the case and every retry with the same key
    and body gets the same case back. Concurrent retries wait on the key's row (PostgreSQL's
    ``ON CONFLICT`` blocks until the first transaction ends), so exactly one case is created.
    """
    if idempotency_key is not None:
        replay = await _claim_key(
            session, taken_by, idempotency_key, body_hash(body, taken_by, resident_id)
        )
        if replay is not None:
            return replay

    event = await _event(session, body.event_id)
    now = utcnow()
    ground = intake_day.admission(
        event["event_date"],
        today,
        event.get("late_intake_reason"),
        taken_offline_at=taken_offline_at,
        now=now,
    )
    if isinstance(ground, intake_day.Refusal):
        raise Invalid(
            "event_id", ground.message, code=intake_day.NOT_TODAY, message_en=ground.message_en
        )
    facts, consent = facts_and_consent(body, event["event_date"])
    resident = body.resident
    new_resident = resident_id is None
    household_id, resident_id, made = await _resident(session, body, resident_id)
    if new_resident:
        # A resident just made has no data key: its row goes in with the resident's.
        made.append(tables.resident_key.insert().values(ports.keys.new_row(session, resident_id)))
    case_id = str(uuid.uuid4())
    case_number = await ports.numbers.take(event["event_date"])
    made.append(
        audit.entry(
            taken_by,
            "case.create",
            case_id=case_id,
            target=resident_id,
            fields=_given_fields(body),
            **_intake_ground(ground, taken_offline_at),
        )
    )
    if idempotency_key is not None:
        made.append(
            idempotency.recording(
                tables.idempotency_key,
                staff=taken_by,
                key=idempotency_key,
                outcome={"case_id": case_id},
            )
        )
    # The household, resident, key, audit entry and the request's outcome go in with the case:
    # one statement (each a CTE; foreign keys are checked at its end), not a round trip each.
    case_row = tables.case.insert().values(
        case_id=case_id,
        case_number=case_number,
        event_id=body.event_id,
        resident_id=resident_id,
        household_id=household_id,
        age=facts.age,
        lives_alone=resident.lives_alone,
        disability_certificate=resident.disability_certificate,
        special_loan_borrower=resident.special_loan_borrower,
        household_members=[m.model_dump(mode="json") for m in resident.household],
        proxy=None if resident.proxy is None else resident.proxy.model_dump(mode="json"),
        concerns=[str(c) for c in body.concerns],
        most_pressing=body.most_pressing,
        urgent_no_food_today=body.urgent.no_food_today,
        urgent_eviction_within_7_days=body.urgent.eviction_within_7_days,
        consent_share=body.consent.share_across_programmes,
        consent_basis=body.consent.basis,
        contact_channels=[str(c) for c in body.consent.contact_channels],
        contact_time=body.consent.contact_time,
        # At risk stays at risk: a dv_abuse concern marks the case sensitive for good.
        sensitive=body.at_risk,
        safe_contact=body.consent.safe_contact,
        notes=body.notes,
        taken_by=taken_by,
        created_at=now,
        updated_at=now,
    )
    await session.execute(
        case_row.add_cte(*(statement.cte(f"made_{i}") for i, statement in enumerate(made)))
    )
    data = contract.CaseCreated(
        case_id=case_id,
        case_number=case_number,
        event_id=body.event_id,
        venue_id=event["venue_id"],
        venue_name=event["venue_name"],
        event_date=event["event_date"],
        household_id=household_id,
        resident_id=resident_id,
        taken_by=taken_by,
        facts=facts,
        consent=consent,
        contact_sealed=await ports.keys.seal(
            session,
            resident_id,
            Purpose.CONTACT,
            contact_for_notify(
                resident.model_dump(mode="json"), consent.at_risk, consent.safe_channel
            ),
        ),
        kana_sealed=await ports.keys.seal(session, resident_id, Purpose.KANA, resident.name_kana),
        created_at=now,
    )
    await _publish(session, ports, contract.CASE_CREATED, case_id, data)
    return Created(case_id, case_number)


def _intake_ground(ground: intake_day.Ground, taken_offline_at: datetime | None) -> dict[str, Any]:
    """What the audit entry says of a case taken in on another day than its event's, case by
    case: under an admin's leave (``late_intake``), or as taken offline on the event's day
    (``taken_offline``); and, for any case a device kept offline, when it says it was taken."""
    detail: dict[str, Any] = {}
    if ground is intake_day.Ground.LATE_INTAKE:
        detail["late_intake"] = True
    elif ground is intake_day.Ground.TAKEN_OFFLINE:
        detail["taken_offline"] = True
    if taken_offline_at is not None:
        detail["taken_offline_at"] = taken_offline_at.isoformat()
    return detail


def facts_and_consent(
    body: CaseInput, event_date: date
) -> tuple[contract.CaseFacts, contract.Consent]:
    """What routing decides on: the age on the event date (never the birth date itself)."""
    resident = body.resident
    age: int | None = None
    if resident.birth_date is not None:
        if resident.birth_date > event_date:
            raise Invalid("resident.birth_date", "生年月日が相談会の日より後になっています")
        age = age_on(resident.birth_date, event_date)
        if age > _MAX_CONTRACT_AGE:
            raise Invalid("resident.birth_date", "生年月日が正しくありません")
    facts = contract.CaseFacts(
        concerns=body.concerns,
        most_pressing=body.most_pressing,
        age=age,
        lives_alone=bool(resident.lives_alone),
        disability_certificate=resident.disability_certificate,
        special_loan_borrower=resident.special_loan_borrower,
        urgent=contract.UrgentFlags(**body.urgent.model_dump()),
    )
    consent = _consent(
        body.consent.share_across_programmes,
        body.consent.basis,
        body.consent.contact_channels,
        body.consent.contact_time,
        resident.language,
        risk=body.at_risk,
        safe=body.consent.safe_contact,
    )
    return facts, consent


async def case_for_key(session: AsyncSession, staff: str, key: str) -> str | None:
    """The case ``staff``'s idempotency key already created, if any (a form submitted twice)."""
    outcome = await idempotency.stored(session, tables.idempotency_key, staff=staff, key=key)
    return None if outcome is None else outcome.get("case_id")


async def _claim_key(session: AsyncSession, staff: str, key: str, digest: str) -> Created | None:
    try:
        outcome = await idempotency.claim(
            session, tables.idempotency_key, staff=staff, key=key, request=digest
        )
    except idempotency.KeyReused:
        raise Conflict("この Idempotency-Key は別の内容で使われています") from None
    if outcome is None:
        return None  # ours: create the case; the row stays locked until we commit
    case_id = str(outcome["case_id"])
    number = await session.scalar(
        select(tables.case.c.case_number).where(tables.case.c.case_id == case_id)
    )
    return Created(case_id, str(number), replayed=True)


async def _event(session: AsyncSession, event_id: str) -> dict[str, Any]:
    event = await staff.get_event(session, event_id)
    if event is None:
        raise Invalid("event_id", "相談会が見つかりません")
    return event


async def _resident(
    session: AsyncSession, body: CaseInput, resident_id: str | None
) -> tuple[str, str, list[Insert | Update]]:
    """Create the resident, or update the existing one staff chose from the duplicate hint.

    A new resident (and household) is not written here: the inserts are returned, for the
    caller to send with the case."""
    r, h = tables.resident, tables.household
    household_id = body.household_id
    if household_id is not None:
        found = await session.scalar(
            select(h.c.household_id).where(h.c.household_id == household_id)
        )
        if found is None:
            raise Invalid("household_id", "世帯が見つかりません")
    details = _resident_columns(body)
    if resident_id is not None:
        row = (
            await session.execute(
                select(r.c.resident_id, r.c.household_id)
                .where(r.c.resident_id == resident_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise Invalid("resident_id", "相談者が見つかりません")
        household_id = household_id or row.household_id
        await session.execute(
            r.update()
            .where(r.c.resident_id == resident_id)
            .values(household_id=household_id, updated_at=func.now(), **details)
        )
        return household_id, resident_id, []
    made: list[Insert | Update] = []
    if household_id is None:
        household_id = str(uuid.uuid4())
        made.append(h.insert().values(household_id=household_id))
    resident_id = str(uuid.uuid4())
    made.append(r.insert().values(resident_id=resident_id, household_id=household_id, **details))
    return household_id, resident_id, made


def _resident_columns(body: CaseInput) -> dict[str, Any]:
    resident = body.resident
    digits = phone_digits(resident.phone) if resident.phone else None
    return {
        "name": resident.name,
        "name_kana": resident.name_kana,
        "kana_search_key": kana_search_key(resident.name_kana),
        "birth_date": resident.birth_date,
        "sex": resident.sex,
        "phone": digits,
        "phone_tail": digits[-8:] if digits else None,
        "email": resident.email,
        "address": resident.address,
        "language": resident.language,
    }


def _consent(
    share: bool,
    basis: Any,
    channels: Any,
    contact_time: Any,
    language: Any,
    *,
    risk: bool = False,
    safe: Any = None,
) -> contract.Consent:
    return contract.Consent(
        share_across_programmes=share,
        basis=basis,
        contact_channels=list(channels),
        contact_time=contact_time,
        language=language,
        at_risk=risk,
        safe_channel=safe_channel(safe) if risk else None,
    )


def _row_consent(row: Any, share: bool, basis: Any) -> contract.Consent:
    """The consent of a case row (joined with its resident's language) as it travels."""
    return _consent(
        share,
        basis,
        row.contact_channels,
        row.contact_time,
        row.language,
        risk=at_risk(row.concerns, row.sensitive),
        safe=row.safe_contact or ContactChannel.NONE.value,
    )


def _row_contact(row: Any) -> dict[str, Any]:
    risk = at_risk(row.concerns, row.sensitive)
    return contact_for_notify(dict(row._mapping), risk, safe_channel(row.safe_contact))


async def _publish(
    session: AsyncSession, ports: Ports, event_type: str, case_id: str, data: Any
) -> None:
    envelope = ports.outbox.envelope(event_type, data.model_dump(mode="json"))
    # With its twin for notify on intake.contact.v1 (ADR 25).
    await publish_case_event(session, ports.outbox, case_id, envelope)


def _given_fields(body: CaseInput) -> list[str]:
    """Which fields of the sheet were filled in (names only, for the audit log)."""
    given = body.model_dump(exclude_none=True, exclude_defaults=True)
    resident = given.pop("resident", {})
    return sorted([f"resident.{k}" for k in resident] + list(given))


# --- consent and the board --------------------------------------------------------------------


async def change_consent(
    session: AsyncSession,
    ports: Ports,
    who: access.Principal,
    case_id: str,
    *,
    give: bool,
    basis: SharingBasis = SharingBasis.CONSENT,
    given_by: ConsentGivenBy | None = None,
    given_how: ConsentMethod | None = None,
    meeting: contract.SupportMeeting | None = None,
    confirmation: bool = False,
) -> dict[str, Any]:
    """Record that consent was given (on ``basis``) or withdrawn; tell everyone via the bus.

    Only intake staff and coordinators change it (403 for everyone else who may see the case).
    Consent names who gave it and how; a support meeting names its date and reference. A
    withdrawal records whether the resident asked for a confirmation (``confirmation``).
    """
    statuses = await referral_statuses(session, case_id)
    c, r = tables.case, tables.resident
    row = (
        await session.execute(
            select(c, r.c.language, r.c.name, r.c.name_kana, r.c.phone, r.c.email, r.c.address)
            .join(r, r.c.resident_id == c.c.resident_id)
            .where(c.c.case_id == case_id)
            .with_for_update(of=c)
        )
    ).first()
    if row is None or not access.can_view_case(who, statuses):
        raise NotFound(case_id)
    if not access.can_change_consent(who, statuses):
        raise Forbidden(case_id)
    if give and basis is SharingBasis.NONE:
        raise Invalid("basis", "共有の根拠（本人同意または支援会議）を選んでください")
    if give and basis is SharingBasis.SUPPORT_MEETING:
        if meeting is None:
            raise Invalid("meeting", "支援会議の開催日と記録番号を入力してください")
        given_by = given_how = None
    if give and basis is SharingBasis.CONSENT:
        if given_by is None:
            raise Invalid("given_by", "同意した人（本人または法定代理人）を選んでください")
        if given_how is None:
            raise Invalid("given_how", "同意の方法（署名した同意書または口頭）を選んでください")
        meeting = None
    if not give:
        given_by = given_how = meeting = None
    confirmation = confirmation and not give
    share, new_basis = (True, basis) if give else (False, SharingBasis.NONE)
    previous = SharingBasis(row.consent_basis)
    result = {
        "case_id": case_id,
        "consent": {
            "share_across_programmes": share,
            "basis": new_basis.value,
            "contact_channels": row.contact_channels,
            "contact_time": row.contact_time,
        },
        "changed": share != row.consent_share or new_basis != previous,
    }
    if not result["changed"]:
        return result  # pressing the button twice tells nobody anything new
    await session.execute(
        c.update()
        .where(c.c.case_id == case_id)
        .values(consent_share=share, consent_basis=new_basis, updated_at=func.now())
    )
    data = contract.ConsentChanged(
        case_id=case_id,
        consent=_row_consent(row, share, new_basis),
        previous_basis=previous,
        changed_by=who.username,
        contact_sealed=await ports.keys.seal(
            session, row.resident_id, Purpose.CONTACT, _row_contact(row)
        ),
        given_by=given_by,
        given_how=given_how,
        meeting=meeting,
        confirmation_requested=confirmation,
    )
    await _publish(session, ports, contract.CONSENT_CHANGED, case_id, data)
    how: dict[str, Any] = {}
    if given_by is not None:
        how |= {
            "given_by": given_by.value,
            "given_how": None if given_how is None else given_how.value,
        }
    if meeting is not None:
        how["meeting"] = meeting.model_dump(mode="json")
    if not give:
        how["confirmation_requested"] = confirmation
    await audit.record(
        session,
        who.username,
        "consent.give" if give else "consent.withdraw",
        case_id=case_id,
        basis=new_basis.value,
        previous_basis=previous.value,
        **how,
    )
    return result


async def update_facts(
    session: AsyncSession,
    ports: Ports,
    who: access.Principal,
    case_id: str,
    *,
    concerns: list[Concern],
    most_pressing: Concern | None,
    no_food_today: bool,
    eviction_within_7_days: bool,
) -> bool:
    """Correct or add to what the resident told us; routing hears it as ``case_updated``.

    Returns whether anything changed (the same facts again publish nothing).
    """
    statuses = await referral_statuses(session, case_id)
    c = tables.case
    row = (await session.execute(select(c).where(c.c.case_id == case_id).with_for_update())).first()
    if row is None or not access.can_view_case(who, statuses):
        raise NotFound(case_id)
    if not who.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR}:
        raise Forbidden(case_id)
    if most_pressing is not None and most_pressing not in concerns:
        raise Invalid("most_pressing", "一番困っていることは、選んだ相談内容の中から選んでください")
    new = {
        "concerns": [str(x) for x in concerns],
        "most_pressing": None if most_pressing is None else str(most_pressing),
        "urgent_no_food_today": no_food_today,
        "urgent_eviction_within_7_days": eviction_within_7_days,
    }
    changed = sorted(k for k, v in new.items() if getattr(row, k) != v)
    if not changed:
        return False
    newly_at_risk = at_risk(new["concerns"], row.sensitive) and not at_risk(
        row.concerns, row.sensitive
    )
    if newly_at_risk:
        new["sensitive"] = True  # at risk stays at risk, even if dv_abuse is taken off later
    await session.execute(
        c.update().where(c.c.case_id == case_id).values(updated_at=func.now(), **new)
    )
    if newly_at_risk:
        # Notify must stop using every channel but the safe one (none is recorded yet).
        await _publish_contact_change(session, ports, who, case_id)
    data = contract.CaseUpdated(
        case_id=case_id,
        facts=contract.CaseFacts(
            concerns=concerns,
            most_pressing=most_pressing,
            age=row.age,
            lives_alone=bool(row.lives_alone),
            disability_certificate=row.disability_certificate,
            special_loan_borrower=row.special_loan_borrower,
            urgent=contract.UrgentFlags(
                no_food_today=no_food_today, eviction_within_7_days=eviction_within_7_days
            ),
        ),
        updated_by=who.username,
    )
    await _publish(session, ports, contract.CASE_UPDATED, case_id, data)
    await audit.record(session, who.username, "case.update", case_id=case_id, fields=changed)
    return True


async def set_safe_contact(
    session: AsyncSession,
    ports: Ports,
    who: access.Principal,
    case_id: str,
    *,
    sensitive: bool,
    safe_contact: ContactChannel | None,
) -> dict[str, Any]:
    """Mark a case sensitive (or not) and record its one safe channel; notify hears it as
    ``consent_changed``. A case with a ``dv_abuse`` concern stays at risk whatever is chosen.
    """
    statuses = await referral_statuses(session, case_id)
    c, r = tables.case, tables.resident
    row = (
        await session.execute(
            select(c, r.c.phone, r.c.email)
            .join(r, r.c.resident_id == c.c.resident_id)
            .where(c.c.case_id == case_id)
            .with_for_update(of=c)
        )
    ).first()
    if row is None or not access.can_view_case(who, statuses):
        raise NotFound(case_id)
    if not who.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR}:
        raise Forbidden(case_id)
    risk = at_risk(row.concerns, sensitive)
    if not risk:
        safe_contact = None
    elif safe_contact is None:
        raise Invalid(
            "safe_contact", "安全な連絡方法を選んでください（ない場合は「安全な連絡先なし」）"
        )
    elif safe_contact is ContactChannel.LETTER:
        raise Invalid("safe_contact", "手紙は自宅に届くため、安全な連絡方法には選べません")
    elif safe_contact is ContactChannel.EMAIL and not row.email:
        raise Invalid("safe_contact", "メールアドレスが登録されていません")
    elif safe_contact in (ContactChannel.SMS, ContactChannel.PHONE) and not row.phone:
        raise Invalid("safe_contact", "電話番号が登録されていません")
    new = {"sensitive": risk, "safe_contact": None if safe_contact is None else safe_contact.value}
    changed = new["sensitive"] != row.sensitive or new["safe_contact"] != row.safe_contact
    result = {"case_id": case_id, "at_risk": risk, **new, "changed": changed}
    if not changed:
        return result
    await session.execute(
        c.update().where(c.c.case_id == case_id).values(updated_at=func.now(), **new)
    )
    await _publish_contact_change(session, ports, who, case_id)
    await audit.record(
        session,
        who.username,
        "case.safe_contact",
        case_id=case_id,
        at_risk=risk,
        safe_contact=new["safe_contact"],
    )
    return result


async def _publish_contact_change(
    session: AsyncSession, ports: Ports, who: access.Principal, case_id: str
) -> None:
    """``consent_changed`` with the case's consent and contact as they are now (same basis)."""
    c, r = tables.case, tables.resident
    row = (
        await session.execute(
            select(c, r.c.language, r.c.name, r.c.name_kana, r.c.phone, r.c.email, r.c.address)
            .join(r, r.c.resident_id == c.c.resident_id)
            .where(c.c.case_id == case_id)
        )
    ).one()
    basis = SharingBasis(row.consent_basis)
    data = contract.ConsentChanged(
        case_id=case_id,
        consent=_row_consent(row, row.consent_share, basis),
        previous_basis=basis,
        changed_by=who.username,
        contact_sealed=await ports.keys.seal(
            session, row.resident_id, Purpose.CONTACT, _row_contact(row)
        ),
    )
    await _publish(session, ports, contract.CONSENT_CHANGED, case_id, data)


async def set_board_status(
    session: AsyncSession, who: access.Principal, case_id: str, status: BoardStatus
) -> None:
    if status not in BOARD_STATUSES:
        raise Invalid("status", "状況の選択肢が正しくありません")
    if not who.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR}:
        raise Forbidden(case_id)
    c = tables.case
    updated = await session.execute(
        c.update()
        .where(c.c.case_id == case_id)
        .values(board_status=status, updated_at=func.now())
        .returning(c.c.case_id)
    )
    if updated.first() is None:
        raise NotFound(case_id)
    await audit.record(session, who.username, "case.board_status", case_id=case_id, status=status)
