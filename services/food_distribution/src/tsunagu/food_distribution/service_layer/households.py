"""The desk links two members of one household: the case (and every case of its household so
far) joins the other's household, so that one parcel per household per event holds for them.

Food's own view of who shares a kitchen, for handouts: intake's records are not changed.
The parcels either household already received move with it (renumbered after the other's), so
a parcel handed out before the link counts for the joined household too. The link is published
(``household_linked`` on ``food.v1``, in the same transaction) with the two household ids
alone, so that intake's reports count the two as one household (ADR 33)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.food_distribution.domain.household import LinkCase, check_link
from tsunagu.food_distribution.service_layer import queries
from tsunagu.food_distribution.service_layer.cases import case_row
from tsunagu.food_distribution.service_layer.errors import Conflict, NotFound, case_not_found
from tsunagu.food_distribution.service_layer.handouts import lock_households
from tsunagu.food_distribution.service_layer.kana import case_number_key
from tsunagu.shared.clock import japan_today
from tsunagu.shared.contracts import food, topics
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.logs import get_logger
from tsunagu.shared.outbox import OutboxWriter

log = get_logger(__name__)
t = tables


async def link(
    session: AsyncSession,
    outbox: OutboxWriter,
    *,
    case_id: str,
    with_case_number: str,
    staff: str,
) -> dict[str, str]:
    """``case_id`` joins the household of the case numbered ``with_case_number`` at the same
    (today's) event, and ``household_linked`` goes to the outbox with the move. Returns both
    case ids and the household they now share."""
    row = await case_row(session, case_id)
    if row is None:
        raise case_not_found(case_id)
    event = await queries.event_row(session, row["event_id"])
    if event["held_on"] != japan_today():
        raise Conflict(
            "event_not_today",
            "本日の開催回ではないため、世帯を結びつけられません",
            "The case's event is not held today: the desk links households at today's event",
            {"event_id": row["event_id"]},
        )
    number = case_number_key(with_case_number)
    c = t.case_index
    found = (
        await session.execute(
            select(c).where(func.upper(c.c.case_number) == number, c.c.event_id == row["event_id"])
        )
    ).first()
    if not number or found is None:
        raise NotFound(
            "case_not_found",
            "この相談番号の相談は本日のこの開催にありません。相談票の番号を確かめてください",
            "No case with that number at this event",
            {"field": "with_case_number"},
        )
    # The handout's own locks, so a handout racing the link waits for it, and the households
    # as they are under them: another link may have moved either case since it was read
    # (``lock_households``). The checks are made on those.
    locked = await lock_households(session, [row["case_id"], found.case_id])
    case = LinkCase(row["case_id"], row["case_number"], locked[row["case_id"]], row["event_id"])
    other = LinkCase(found.case_id, found.case_number, locked[found.case_id], found.event_id)
    refusal = check_link(case, other)
    if refusal is not None:
        raise Conflict(refusal.code, refusal.message_ja, refusal.message_en)
    moving, joined = case.household_id, other.household_id
    await session.execute(update(c).where(c.c.household_id == moving).values(household_id=joined))
    e = t.eligibility
    await session.execute(update(e).where(e.c.household_id == moving).values(household_id=joined))
    h = t.handout
    # Each moved parcel is numbered after the joined household's parcels at its event, so the
    # unique (household, event, seq) holds and "how many at this event" counts both.
    h2 = h.alias("joined")
    before = (
        select(func.coalesce(func.max(h2.c.seq), 0))
        .where(h2.c.household_id == joined, h2.c.event_id == h.c.event_id)
        .scalar_subquery()
    )
    await session.execute(
        update(h)
        .where(h.c.household_id == moving)
        .values(household_id=joined, seq=h.c.seq + before)
    )
    await queries.audit_view(session, staff, "food.household_link", [case.case_id, other.case_id])
    # Who linked them is in the audit log; the event names the two households and nobody.
    linked = food.HouseholdLinked(
        case_id=case.case_id,
        event_id=case.event_id,
        moved_household_id=moving,
        joined_household_id=joined,
        linked_at=utcnow(),
    )
    await outbox.add(
        session,
        topic=topics.FOOD.name,
        aggregatetype="case",
        aggregateid=case.case_id,
        envelope=outbox.envelope(food.HOUSEHOLD_LINKED, linked.model_dump(mode="json")),
    )
    log.info("household_linked", case_id=case.case_id, with_case_id=other.case_id)
    return {"case_id": case.case_id, "with_case_id": other.case_id, "household_id": joined}
