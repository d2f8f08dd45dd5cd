"""Reading cases back as each role may see them: a case, the list, likely duplicates.

Every read of personal data is written to the audit log in the same transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, and_, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.domain import access
from tsunagu.intake.domain.matching import ResidentKey, find_likely_duplicates, kana_search_key
from tsunagu.intake.domain.normalize import phone_digits
from tsunagu.intake.domain.safe_contact import at_risk
from tsunagu.intake.domain.search import SearchTerms, kana_found_in, parse_query
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer.errors import NotFound
from tsunagu.intake.service_layer.keys import KeyStore
from tsunagu.shared.contracts.codes import (
    Programme,
    ReferralStatus,
    StaffRole,
)
from tsunagu.shared.crypto import ContactSealError, is_resident_sealed


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


async def _visible(
    session: AsyncSession, who: access.Principal, case_id: str, today: date | None
) -> tuple[bool, bool]:
    """(may see the full case, may see the food desk's view); unknown cases raise NotFound."""
    exists_ = await session.scalar(
        select(tables.case.c.case_id).where(tables.case.c.case_id == case_id)
    )
    if exists_ is None:
        raise NotFound(case_id)
    full = access.can_view_case(who, await referral_statuses(session, case_id))
    # The food desk sees only what a handout needs, and only of today's eligible households.
    food = False
    if not full and StaffRole.FOOD_DESK in who.roles and today is not None:
        food = (
            await session.scalar(
                select(tables.case.c.case_id).where(
                    tables.case.c.case_id == case_id, food_desk_scope(today)
                )
            )
        ) is not None
    if not (full or food):
        raise NotFound(case_id)  # no hint that the case exists
    return full, food


def food_desk_scope(today: date) -> Any:
    """The cases the food desk may look up: taken in at today's events, and eligible for a
    parcel as food distribution says (its grant, or a handout already recorded)."""
    c, e, fe = tables.case, tables.consultation_event, tables.food_eligibility
    todays = select(e.c.event_id).where(e.c.event_date == today)
    granted = exists().where(
        fe.c.case_id == c.c.case_id,
        or_(fe.c.granted_at.is_not(None), fe.c.handed_out_at.is_not(None)),
    )
    return and_(c.c.event_id.in_(todays), granted)


async def routing_of(session: AsyncSession, case_id: str) -> dict[str, Any] | None:
    """Routing's summary of the case (lead, coordinator, ...) once it has routed it."""
    g = tables.case_routing
    row = (await session.execute(select(g).where(g.c.case_id == case_id))).first()
    if row is None:
        return None
    return {k: v for k, v in row._mapping.items() if k != "case_id"}


async def food_status(session: AsyncSession, case_id: str) -> dict[str, Any]:
    """Eligible once food distribution says so (a handout implies it too).

    Food distribution owns who gets a parcel: it follows routing's decision (rule 9) and staff
    grants, so intake shows its answer alone, never a second opinion of its own."""
    fe, g = tables.food_eligibility, tables.case_routing
    food = (await session.execute(select(fe).where(fe.c.case_id == case_id))).first()
    routed = await session.scalar(select(g.c.food_parcel_eligible).where(g.c.case_id == case_id))
    handed_out = food is not None and food.handed_out_at is not None
    granted = food is not None and food.granted_at is not None
    return {
        #: Whether routing has decided or food distribution has said anything yet.
        "known": routed is not None or food is not None,
        "eligible": bool(granted or handed_out),
        "handed_out": handed_out,
        "handed_out_at": None if food is None else food.handed_out_at,
        "parcel_type": None if food is None else food.parcel_type,
    }


async def case_view(
    session: AsyncSession,
    who: access.Principal,
    case_id: str,
    *,
    audit_as: str = "case.view",
    today: date | None = None,
    keys: KeyStore | None = None,
) -> dict[str, Any]:
    """The case as ``who`` may see it: in full, or only what a food handout needs (the food
    desk, for today's eligible households only: pass ``today``)."""
    full, _ = await _visible(session, who, case_id, today)
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
            .where(c.c.case_id == case_id, r.c.erased_at.is_(None))
        )
    ).first()
    if row is None:
        raise NotFound(case_id)  # erased: the resident is no longer shown to anyone
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
            "sensitive": row.sensitive,
            "safe_contact": row.safe_contact,
        },
        # Someone at home may be a danger: every page of the case warns, and only the safe
        # contact is ever used.
        "at_risk": at_risk(row.concerns, row.sensitive),
        "notes": row.notes,
        "taken_by": row.taken_by,
        "board_status": row.board_status,
        "created_at": row.created_at,
        "referrals": await referrals_of(session, case_id, keys),
        "routing": await routing_of(session, case_id),
        "food_known": food_known,
    }
    await audit.record(session, who.username, audit_as, case_id=case_id, view="full")
    return view


async def referrals_of(
    session: AsyncSession, case_id: str, keys: KeyStore | None = None
) -> list[dict[str, Any]]:
    """The case's referrals as routing last told them. Staff's words (a decline's reason, a
    close's outcome) are kept sealed with the resident's record key and opened here to show;
    without ``keys``, or once the key is destroyed, they are not shown."""
    f = tables.referral
    rows = await session.execute(
        select(f).where(f.c.case_id == case_id).order_by(f.c.role, f.c.programme)
    )
    out = []
    for row in rows:
        referral = dict(row._mapping)
        # The API's names for what routing last said (reason for a decline, a close's outcome).
        referral["reason"] = await _words(session, keys, row.last_reason)
        referral["outcome"] = await _words(session, keys, row.last_outcome)
        referral["last_reason"], referral["last_outcome"] = referral["reason"], referral["outcome"]
        referral["reason_code"], referral["outcome_code"] = (
            row.last_reason_code,
            row.last_outcome_code,
        )
        out.append(referral)
    return out


async def _words(session: AsyncSession, keys: KeyStore | None, value: str | None) -> str | None:
    if value is None or not is_resident_sealed(value):
        return value  # a code's label, or words from before they were sealed
    if keys is None:
        return None
    try:
        return str(await keys.open(session, value))
    except ContactSealError:  # the key is destroyed (erased): nothing to show
        return None


async def earlier_visits(
    session: AsyncSession, who: access.Principal, resident_id: str, case_id: str
) -> list[dict[str, Any]]:
    """The resident's other cases that ``who`` may open themselves (never a hint of the rest);
    the case ids shown are audited."""
    c, e, v = tables.case, tables.consultation_event, tables.venue
    rows = await session.execute(
        select(
            c.c.case_id, c.c.case_number, c.c.concerns, e.c.event_date, v.c.name.label("venue_name")
        )
        .join(e, e.c.event_id == c.c.event_id)
        .join(v, v.c.venue_id == e.c.venue_id)
        .where(c.c.resident_id == resident_id, c.c.case_id != case_id, may_open(who))
        .order_by(e.c.event_date.desc(), c.c.created_at.desc())
        .limit(20)
    )
    visits = [dict(row._mapping) for row in rows]
    if visits:
        await audit.record(
            session,
            who.username,
            "case.earlier_visits",
            case_id=case_id,
            case_ids=[x["case_id"] for x in visits],
        )
    return visits


def _shared_with(programmes: frozenset[Programme]) -> Any:
    """Cases one of ``programmes`` holds: ``access.can_view_case`` as a SQL condition."""
    f = tables.referral
    return exists().where(
        f.c.case_id == tables.case.c.case_id,
        f.c.programme.in_([str(p) for p in programmes]),
        f.c.status.not_in([s.value for s in access.NOT_HOLDING]),
    )


def may_open(who: access.Principal) -> Any:
    """The cases ``who`` may open in full, as a SQL condition over ``case`` (the same rule as
    ``access.can_view_case``, for lists)."""
    if access.sees_every_case(who):
        return true()
    if StaffRole.PROGRAMME in who.roles and who.programmes:
        return _shared_with(who.programmes)
    return false()


async def list_cases(
    session: AsyncSession,
    who: access.Principal,
    *,
    event_id: str | None = None,
    board_status: str | None = None,
    programme: Programme | None = None,
    q: str | None = None,
    today: date | None = None,
    page: int = 1,
    page_size: int = 20,
) -> dict[str, Any]:
    """Cases ``who`` may see, newest first; the food desk gets its narrow columns only, of
    today's households eligible for a parcel (pass ``today``).

    ``q`` searches (``domain.search``): reception number or its last digits, phone, birth date
    in either calendar, furigana (one kana off still matches), name. Within what ``who`` may
    see (the same rule as every read path). A search is audited by the kinds searched for,
    never the text.
    """
    c, r = tables.case, tables.resident
    full_view = True
    conditions: list[Any] = []
    terms = parse_query(q) if q is not None else None
    if not access.sees_every_case(who):
        if StaffRole.PROGRAMME in who.roles and who.programmes:
            conditions.append(_shared_with(who.programmes))
        elif StaffRole.FOOD_DESK in who.roles and today is not None:
            full_view = False  # only what a handout needs
            conditions.append(food_desk_scope(today))
        else:
            return {"items": [], "total": 0, "page": page, "page_size": page_size}
    if terms is not None:
        conditions.append(await _matching(session, terms, and_(true(), *conditions)))
    if event_id is not None:
        conditions.append(c.c.event_id == event_id)
    if board_status is not None:
        conditions.append(c.c.board_status == board_status)
    if programme is not None:
        f = tables.referral
        conditions.append(
            exists().where(f.c.case_id == c.c.case_id, f.c.programme == str(programme))
        )
    conditions.append(r.c.erased_at.is_(None))
    where = and_(true(), *conditions)
    joined = c.join(r, r.c.resident_id == c.c.resident_id)
    total = await session.scalar(select(func.count()).select_from(joined).where(where))
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
    searched = {} if terms is None else {"search": terms.kinds}
    await audit.record(
        session,
        who.username,
        "case.list" if terms is None else "case.search",
        count=len(items),
        case_ids=ids,
        view="full" if full_view else "food_desk",
        **searched,
    )
    return {"items": items, "total": int(total or 0), "page": page, "page_size": page_size}


async def _matching(session: AsyncSession, terms: SearchTerms, visible: Any) -> Any:
    """The condition for cases that match ``terms`` (any of them)."""
    c, r = tables.case, tables.resident
    found: list[Any] = []
    if terms.case_number:
        found.append(c.c.case_number == terms.case_number)
    if terms.number_tail:
        found.append(c.c.case_number.like(f"%-{terms.number_tail}"))  # digits only
    if terms.phone:
        digits = terms.phone
        found.append(r.c.phone == digits if len(digits) >= 10 else r.c.phone.endswith(digits))
    if terms.birth_date:
        found.append(r.c.birth_date == terms.birth_date)
    if terms.name:
        written = func.replace(func.replace(r.c.name, " ", ""), "\u3000", "")
        found.append(written.contains(terms.name, autoescape=True))
    if terms.kana_key:
        # Furigana one kana off: compared in Python (rapidfuzz) over the keys of the residents
        # of the cases the caller may see; exact parts of a key are found the same way.
        keys = await session.execute(
            select(r.c.resident_id, r.c.kana_search_key)
            .distinct()
            .select_from(c.join(r, r.c.resident_id == c.c.resident_id))
            .where(visible)
        )
        ids = [rid for rid, key in keys if kana_found_in(terms.kana_key, key)]
        if ids:
            found.append(r.c.resident_id.in_(ids))
    return or_(false(), *found)


async def _food_eligibility(session: AsyncSession, case_ids: list[str]) -> dict[str, bool]:
    if not case_ids:
        return {}
    fe = tables.food_eligibility
    out: dict[str, bool] = {}
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
            .where(or_(*signs), r.c.erased_at.is_(None))
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
