"""Taking a resident in, and reading cases back: create, view, list, consent, board status.

Every function runs inside the caller's transaction, so a case, its resident, its outbox event
and its audit entry are committed together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import Select, and_, exists, func, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.domain import access
from tsunagu.intake.domain.case_input import CaseInput
from tsunagu.intake.domain.matching import ResidentKey, find_likely_duplicates, kana_search_key
from tsunagu.intake.domain.normalize import age_on, phone_digits
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer.errors import Conflict, Forbidden, Invalid, NotFound
from tsunagu.shared.contracts import intake as contract
from tsunagu.shared.contracts.codes import Programme, ReferralStatus, SharingBasis, StaffRole
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.contracts.topics import INTAKE_CASE
from tsunagu.shared.crypto import ContactSealer
from tsunagu.shared.outbox import OutboxWriter

BoardStatus = Literal["waiting", "in_consultation", "done"]
BOARD_STATUSES: tuple[BoardStatus, ...] = ("waiting", "in_consultation", "done")

#: contract.CaseFacts allows ages up to this; older is a data-entry error.
_MAX_CONTRACT_AGE = 130


@dataclass(frozen=True)
class Ports:
    """What the case commands write besides tables: the outbox and the contact sealer."""

    outbox: OutboxWriter
    sealer: ContactSealer


@dataclass(frozen=True)
class Created:
    case_id: str
    case_number: str
    replayed: bool = False


# --- taking a resident in ---------------------------------------------------------------------


def body_hash(body: CaseInput, taken_by: str, resident_id: str | None) -> str:
    """What an Idempotency-Key is bound to: who sent which (validated) case."""
    canonical = json.dumps(
        {"by": taken_by, "resident_id": resident_id, "body": body.model_dump(mode="json")},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def create_case(
    session: AsyncSession,
    ports: Ports,
    body: CaseInput,
    *,
    taken_by: str,
    idempotency_key: str | None = None,
    resident_id: str | None = None,
) -> Created:
    """Record the case, its resident and household, and ``case_created`` in the outbox.

    With an idempotency key the first request creates the case and every retry with the same key
    and body gets the same case back. Concurrent retries wait on the key's row (PostgreSQL's
    ``ON CONFLICT`` blocks until the first transaction ends), so exactly one case is created.
    """
    if idempotency_key is not None:
        replay = await _claim_key(session, idempotency_key, body_hash(body, taken_by, resident_id))
        if replay is not None:
            return replay

    event = await _event(session, body.event_id)
    facts, consent = facts_and_consent(body, event["event_date"])
    resident = body.resident
    household_id, resident_id = await _resident(session, body, resident_id)
    case_id = str(uuid.uuid4())
    case_number = await _next_case_number(session, event["event_date"])
    now = utcnow()
    await session.execute(
        tables.case.insert().values(
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
            notes=body.notes,
            taken_by=taken_by,
            created_at=now,
            updated_at=now,
        )
    )
    data = contract.CaseCreated(
        case_id=case_id,
        case_number=case_number,
        event_id=body.event_id,
        venue_id=event["venue_id"],
        household_id=household_id,
        resident_id=resident_id,
        taken_by=taken_by,
        facts=facts,
        consent=consent,
        contact_sealed=ports.sealer.seal(_contact(resident.model_dump(mode="json"))),
        created_at=now,
    )
    await _publish(session, ports, contract.CASE_CREATED, case_id, data)
    if idempotency_key is not None:
        await session.execute(
            tables.idempotency_key.update()
            .where(tables.idempotency_key.c.key == idempotency_key)
            .values(case_id=case_id)
        )
    await audit.record(
        session,
        taken_by,
        "case.create",
        case_id=case_id,
        target=resident_id,
        fields=_given_fields(body),
    )
    return Created(case_id, case_number)


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
    )
    return facts, consent


async def case_for_key(session: AsyncSession, key: str) -> str | None:
    """The case an idempotency key already created, if any (a form submitted twice)."""
    t = tables.idempotency_key
    found: str | None = await session.scalar(select(t.c.case_id).where(t.c.key == key))
    return found


async def _claim_key(session: AsyncSession, key: str, digest: str) -> Created | None:
    t = tables.idempotency_key
    claimed = await session.execute(
        insert(t).values(key=key, body_hash=digest).on_conflict_do_nothing().returning(t.c.key)
    )
    if claimed.first() is not None:
        return None  # ours: create the case; the row stays locked until we commit
    row = (await session.execute(select(t).where(t.c.key == key))).one()
    if row.body_hash != digest:
        raise Conflict("この Idempotency-Key は別の内容で使われています")
    number = await session.scalar(
        select(tables.case.c.case_number).where(tables.case.c.case_id == row.case_id)
    )
    return Created(row.case_id, str(number), replayed=True)


async def _event(session: AsyncSession, event_id: str) -> dict[str, Any]:
    e = tables.consultation_event
    row = (await session.execute(select(e).where(e.c.event_id == event_id))).first()
    if row is None:
        raise Invalid("event_id", "相談会が見つかりません")
    return dict(row._mapping)


async def _resident(
    session: AsyncSession, body: CaseInput, resident_id: str | None
) -> tuple[str, str]:
    """Create the resident, or update the existing one staff chose from the duplicate hint."""
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
        return household_id, resident_id
    if household_id is None:
        household_id = str(uuid.uuid4())
        await session.execute(h.insert().values(household_id=household_id))
    resident_id = str(uuid.uuid4())
    await session.execute(
        r.insert().values(resident_id=resident_id, household_id=household_id, **details)
    )
    return household_id, resident_id


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


async def _next_case_number(session: AsyncSession, day: date) -> str:
    c = tables.case_number_counter
    stmt = (
        insert(c)
        .values(day=day, last_number=1)
        .on_conflict_do_update(index_elements=[c.c.day], set_={"last_number": c.c.last_number + 1})
        .returning(c.c.last_number)
    )
    number = (await session.execute(stmt)).scalar_one()
    return f"K-{day:%Y%m%d}-{number:04d}"


def _contact(resident: dict[str, Any]) -> dict[str, Any]:
    return {k: resident.get(k) for k in ("name", "name_kana", "phone", "email", "address")}


def _consent(
    share: bool, basis: Any, channels: Any, contact_time: Any, language: Any
) -> contract.Consent:
    return contract.Consent(
        share_across_programmes=share,
        basis=basis,
        contact_channels=list(channels),
        contact_time=contact_time,
        language=language,
    )


async def _publish(
    session: AsyncSession, ports: Ports, event_type: str, case_id: str, data: Any
) -> None:
    envelope = ports.outbox.envelope(event_type, data.model_dump(mode="json"))
    await ports.outbox.add(
        session,
        topic=INTAKE_CASE.name,
        aggregatetype="case",
        aggregateid=case_id,
        envelope=envelope,
    )


def _given_fields(body: CaseInput) -> list[str]:
    """Which fields of the sheet were filled in (names only, for the audit log)."""
    given = body.model_dump(exclude_none=True, exclude_defaults=True)
    resident = given.pop("resident", {})
    return sorted([f"resident.{k}" for k in resident] + list(given))


# --- reading cases back -----------------------------------------------------------------------


async def referral_statuses(session: AsyncSession, case_id: str) -> dict[Programme, ReferralStatus]:
    """Programme → status of the case's referrals, for the access rules."""
    f = tables.referral
    rows = await session.execute(select(f.c.programme, f.c.status).where(f.c.case_id == case_id))
    statuses: dict[Programme, ReferralStatus] = {}
    for programme, status in rows:
        try:
            statuses[Programme(programme)] = ReferralStatus(status)
        except ValueError:
            continue  # a code newer than this service: not a grant of access
    return statuses


async def _visible(session: AsyncSession, who: access.Principal, case_id: str) -> tuple[bool, bool]:
    """(may see the full case, may see the food desk's view); unknown cases raise NotFound."""
    exists_ = await session.scalar(
        select(tables.case.c.case_id).where(tables.case.c.case_id == case_id)
    )
    if exists_ is None:
        raise NotFound(case_id)
    full = access.can_view_case(who, await referral_statuses(session, case_id))
    # The food desk may look up any case, but sees only what a handout needs.
    food = StaffRole.FOOD_DESK in who.roles
    if not (full or food):
        raise NotFound(case_id)  # no hint that the case exists
    return full, food


async def routing_of(session: AsyncSession, case_id: str) -> dict[str, Any] | None:
    """Routing's summary of the case (lead, coordinator, ...) once it has routed it."""
    g = tables.case_routing
    row = (await session.execute(select(g).where(g.c.case_id == case_id))).first()
    if row is None:
        return None
    return {k: v for k, v in row._mapping.items() if k != "case_id"}


async def food_status(session: AsyncSession, case_id: str) -> dict[str, Any]:
    """Eligible once routing or food distribution says so (a handout implies it too)."""
    fe, g = tables.food_eligibility, tables.case_routing
    food = (await session.execute(select(fe).where(fe.c.case_id == case_id))).first()
    routed = await session.scalar(select(g.c.food_parcel_eligible).where(g.c.case_id == case_id))
    handed_out = food is not None and food.handed_out_at is not None
    granted = food is not None and food.granted_at is not None
    return {
        #: Whether routing or food distribution has said anything yet.
        "known": routed is not None or food is not None,
        "eligible": bool(granted or handed_out or routed),
        "handed_out": handed_out,
        "handed_out_at": None if food is None else food.handed_out_at,
        "parcel_type": None if food is None else food.parcel_type,
    }


async def case_view(
    session: AsyncSession, who: access.Principal, case_id: str, *, audit_as: str = "case.view"
) -> dict[str, Any]:
    """The case as ``who`` may see it: in full, or only what a food handout needs."""
    full, _ = await _visible(session, who, case_id)
    c, r, e, v = tables.case, tables.resident, tables.consultation_event, tables.venue
    row = (
        await session.execute(
            select(
                c,
                r.c.name,
                r.c.name_kana,
                r.c.birth_date,
                r.c.sex,
                r.c.phone,
                r.c.email,
                r.c.address,
                r.c.language,
                e.c.event_date,
                e.c.venue_id,
                v.c.name.label("venue_name"),
            )
            .join(r, r.c.resident_id == c.c.resident_id)
            .join(e, e.c.event_id == c.c.event_id)
            .join(v, v.c.venue_id == e.c.venue_id)
            .where(c.c.case_id == case_id)
        )
    ).one()
    food = await food_status(session, case_id)
    view: dict[str, Any] = {
        "case_id": row.case_id,
        "case_number": row.case_number,
        "name_kana": row.name_kana,
        "food_parcel_eligible": food["eligible"],
        "food_parcel_handed_out": food["handed_out"],
    }
    food_known = food["known"]
    if not full:
        await audit.record(session, who.username, audit_as, case_id=case_id, view="food_desk")
        return view
    view |= {
        "event_id": row.event_id,
        "event_date": row.event_date,
        "venue_id": row.venue_id,
        "venue_name": row.venue_name,
        "household_id": row.household_id,
        "resident_id": row.resident_id,
        "name": row.name,
        "birth_date": row.birth_date,
        "age": row.age,
        "sex": row.sex,
        "phone": row.phone,
        "email": row.email,
        "address": row.address,
        "language": row.language,
        "lives_alone": row.lives_alone,
        "disability_certificate": row.disability_certificate,
        "special_loan_borrower": row.special_loan_borrower,
        "household": row.household_members,
        "proxy": row.proxy,
        "concerns": row.concerns,
        "most_pressing": row.most_pressing,
        "urgent": {
            "no_food_today": row.urgent_no_food_today,
            "eviction_within_7_days": row.urgent_eviction_within_7_days,
        },
        "consent": {
            "share_across_programmes": row.consent_share,
            "basis": row.consent_basis,
            "contact_channels": row.contact_channels,
            "contact_time": row.contact_time,
        },
        "notes": row.notes,
        "taken_by": row.taken_by,
        "board_status": row.board_status,
        "created_at": row.created_at,
        "referrals": await referrals_of(session, case_id),
        "routing": await routing_of(session, case_id),
        "food_known": food_known,
    }
    await audit.record(session, who.username, audit_as, case_id=case_id, view="full")
    return view


async def referrals_of(session: AsyncSession, case_id: str) -> list[dict[str, Any]]:
    f = tables.referral
    rows = await session.execute(
        select(f).where(f.c.case_id == case_id).order_by(f.c.role, f.c.programme)
    )
    return [dict(row._mapping) for row in rows]


async def earlier_visits(
    session: AsyncSession, resident_id: str, case_id: str
) -> list[dict[str, Any]]:
    c, e, v = tables.case, tables.consultation_event, tables.venue
    rows = await session.execute(
        select(
            c.c.case_id, c.c.case_number, c.c.concerns, e.c.event_date, v.c.name.label("venue_name")
        )
        .join(e, e.c.event_id == c.c.event_id)
        .join(v, v.c.venue_id == e.c.venue_id)
        .where(c.c.resident_id == resident_id, c.c.case_id != case_id)
        .order_by(e.c.event_date.desc(), c.c.created_at.desc())
        .limit(20)
    )
    return [dict(row._mapping) for row in rows]


def _shared_with(programmes: frozenset[Programme]) -> Any:
    """Cases referred to one of ``programmes`` in a status other than suggested."""
    f = tables.referral
    return exists().where(
        f.c.case_id == tables.case.c.case_id,
        f.c.programme.in_([str(p) for p in programmes]),
        f.c.status != ReferralStatus.SUGGESTED.value,
    )


async def list_cases(
    session: AsyncSession,
    who: access.Principal,
    *,
    event_id: str | None = None,
    board_status: str | None = None,
    programme: Programme | None = None,
    page: int = 1,
    page_size: int = 20,
) -> dict[str, Any]:
    """Cases ``who`` may see, newest first; the food desk gets its narrow columns only."""
    c, r = tables.case, tables.resident
    full_view = True
    conditions: list[Any] = []
    # Roles that see every case pass the rule with no referrals at all.
    if not access.can_view_case(who, {}):
        if StaffRole.PROGRAMME in who.roles and who.programmes:
            conditions.append(_shared_with(who.programmes))
        elif StaffRole.FOOD_DESK in who.roles:
            full_view = False  # every case, but only what a handout needs
        else:
            return {"items": [], "total": 0, "page": page, "page_size": page_size}
    if event_id is not None:
        conditions.append(c.c.event_id == event_id)
    if board_status is not None:
        conditions.append(c.c.board_status == board_status)
    if programme is not None:
        f = tables.referral
        conditions.append(
            exists().where(f.c.case_id == c.c.case_id, f.c.programme == str(programme))
        )
    where = and_(true(), *conditions)
    total = await session.scalar(select(func.count()).select_from(c).where(where))
    stmt: Select[Any] = (
        select(
            c.c.case_id,
            c.c.case_number,
            c.c.event_id,
            c.c.concerns,
            c.c.board_status,
            c.c.created_at,
            c.c.urgent_no_food_today,
            c.c.urgent_eviction_within_7_days,
            r.c.name,
            r.c.name_kana,
        )
        .join(r, r.c.resident_id == c.c.resident_id)
        .where(where)
        .order_by(c.c.created_at.desc(), c.c.case_id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = list(await session.execute(stmt))
    ids = [row.case_id for row in rows]
    eligible = await _food_eligibility(session, ids)
    programmes = await _programmes_by_case(session, ids)
    items = []
    for row in rows:
        item: dict[str, Any] = {
            "case_id": row.case_id,
            "case_number": row.case_number,
            "name_kana": row.name_kana,
            "food_parcel_eligible": eligible.get(row.case_id, False),
        }
        if full_view:
            item |= {
                "event_id": row.event_id,
                "name": row.name,
                "concerns": row.concerns,
                "board_status": row.board_status,
                "created_at": row.created_at,
                "urgent": row.urgent_no_food_today or row.urgent_eviction_within_7_days,
                "programmes": programmes.get(row.case_id, []),
            }
        items.append(item)
    await audit.record(
        session,
        who.username,
        "case.list",
        count=len(items),
        view="full" if full_view else "food_desk",
    )
    return {"items": items, "total": int(total or 0), "page": page, "page_size": page_size}


async def _food_eligibility(session: AsyncSession, case_ids: list[str]) -> dict[str, bool]:
    if not case_ids:
        return {}
    g, fe = tables.case_routing, tables.food_eligibility
    out: dict[str, bool] = {}
    for case_id, eligible in await session.execute(
        select(g.c.case_id, g.c.food_parcel_eligible).where(g.c.case_id.in_(case_ids))
    ):
        out[case_id] = bool(eligible)
    for (case_id,) in await session.execute(
        select(fe.c.case_id).where(
            fe.c.case_id.in_(case_ids),
            or_(fe.c.granted_at.is_not(None), fe.c.handed_out_at.is_not(None)),
        )
    ):
        out[case_id] = True
    return out


async def _programmes_by_case(
    session: AsyncSession, case_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    if not case_ids:
        return {}
    f = tables.referral
    out: dict[str, list[dict[str, Any]]] = {}
    rows = await session.execute(
        select(f.c.case_id, f.c.programme, f.c.status, f.c.role)
        .where(f.c.case_id.in_(case_ids))
        .order_by(f.c.programme)
    )
    for row in rows:
        out.setdefault(row.case_id, []).append(
            {"programme": row.programme, "status": row.status, "role": row.role}
        )
    return out


# --- duplicates -------------------------------------------------------------------------------


async def likely_matches(
    session: AsyncSession,
    who: access.Principal,
    *,
    name_kana: str | None,
    birth_date: date | None,
    phone: str | None,
    limit: int = 5,
) -> list[dict[str, Any]]:
    """Existing residents who may be the one being taken in (two of three signs agree)."""
    r, c, e = tables.resident, tables.case, tables.consultation_event
    key = kana_search_key(name_kana) if name_kana else ""
    digits = phone_digits(phone) if phone else ""
    tail = digits[-8:] if len(digits) >= 8 else ""
    signs = []
    if key:
        signs.append(r.c.kana_search_key == key)
    if birth_date is not None:
        signs.append(r.c.birth_date == birth_date)
    if tail:
        signs.append(r.c.phone_tail == tail)
    await audit.record(
        session,
        who.username,
        "resident.match",
        given=[
            n for n, v in (("name_kana", key), ("birth_date", birth_date), ("phone", tail)) if v
        ],
    )
    if len(signs) < 2:
        return []  # one sign alone never makes a match
    rows = list(
        await session.execute(
            select(
                r.c.resident_id,
                r.c.name,
                r.c.name_kana,
                r.c.birth_date,
                r.c.phone,
                r.c.household_id,
            )
            .where(or_(*signs))
            .limit(200)
        )
    )
    candidate = ResidentKey("", name_kana, birth_date, phone)
    found = find_likely_duplicates(
        candidate, [ResidentKey(x.resident_id, x.name_kana, x.birth_date, x.phone) for x in rows]
    )[:limit]
    by_id = {x.resident_id: x for x in rows}
    last_visits: dict[str, date] = {}
    if found:
        for resident_id, last in await session.execute(
            select(c.c.resident_id, func.max(e.c.event_date))
            .join(e, e.c.event_id == c.c.event_id)
            .where(c.c.resident_id.in_([m.resident_id for m in found]))
            .group_by(c.c.resident_id)
        ):
            last_visits[resident_id] = last
    return [
        {
            "resident_id": m.resident_id,
            "score": m.score,
            "reasons": [str(reason) for reason in m.reasons],
            "name": by_id[m.resident_id].name,
            "name_kana": by_id[m.resident_id].name_kana,
            "birth_date": by_id[m.resident_id].birth_date,
            "household_id": by_id[m.resident_id].household_id,
            "last_visit": last_visits.get(m.resident_id),
        }
        for m in found
    ]


# --- consent and the board --------------------------------------------------------------------


async def change_consent(
    session: AsyncSession,
    ports: Ports,
    who: access.Principal,
    case_id: str,
    *,
    give: bool,
    basis: SharingBasis = SharingBasis.CONSENT,
) -> dict[str, Any]:
    """Record that consent was given (on ``basis``) or withdrawn; tell everyone via the bus."""
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
        consent=_consent(share, new_basis, row.contact_channels, row.contact_time, row.language),
        previous_basis=previous,
        changed_by=who.username,
        contact_sealed=ports.sealer.seal(_contact(dict(row._mapping))),
    )
    await _publish(session, ports, contract.CONSENT_CHANGED, case_id, data)
    await audit.record(
        session,
        who.username,
        "consent.give" if give else "consent.withdraw",
        case_id=case_id,
        basis=new_basis.value,
        previous_basis=previous.value,
    )
    return result


async def set_board_status(
    session: AsyncSession, who: access.Principal, case_id: str, status: BoardStatus
) -> None:
    if status not in BOARD_STATUSES:
        raise Invalid("status", "状況の選択肢が正しくありません")
    if not who.roles & {StaffRole.INTAKE, StaffRole.COORDINATOR}:
        raise Forbidden(case_id)
    c = tables.case
    updated = await session.execute(
        c.update().where(c.c.case_id == case_id).values(board_status=status, updated_at=func.now())
    )
    if updated.rowcount == 0:
        raise NotFound(case_id)
    await audit.record(session, who.username, "case.board_status", case_id=case_id, status=status)
