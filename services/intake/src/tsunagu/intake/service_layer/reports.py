"""Reports: the anonymous facts of a set of events, read and counted (``domain.reports``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.domain import reports
from tsunagu.intake.service_layer import audit
from tsunagu.intake.service_layer.errors import Invalid, NotFound


@dataclass(frozen=True)
class Scope:
    """Which events a report covers: one event, or a date span (optionally one venue)."""

    event_id: str | None = None
    from_date: date | None = None
    to_date: date | None = None
    venue_id: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "from": None if self.from_date is None else self.from_date.isoformat(),
            "to": None if self.to_date is None else self.to_date.isoformat(),
            "venue_id": self.venue_id,
        }


def period_scope(
    *,
    month: str | None = None,
    fiscal_year: int | None = None,
    from_date: date | None = None,
    to_date: date | None = None,
    venue_id: str | None = None,
) -> Scope:
    """A span from ``month`` (YYYY-MM), ``fiscal_year`` (年度, April–March) or from/to dates."""
    given = sum(x is not None for x in (month, fiscal_year)) + (
        from_date is not None or to_date is not None
    )
    if given != 1:
        raise Invalid("period", "month・fiscal_year・from/to のどれか1つを指定してください")
    if month is not None:
        try:
            year, number = (int(x) for x in month.split("-"))
            start, end = reports.month_span(year, number)
        except ValueError:
            raise Invalid("month", "月は YYYY-MM の形で指定してください") from None
    elif fiscal_year is not None:
        start, end = reports.fiscal_year_span(fiscal_year)
    else:
        start, end = from_date or date.min, to_date or date.max
        if start > end:
            raise Invalid("to", "終了日は開始日以降にしてください")
    return Scope(from_date=start, to_date=end, venue_id=venue_id)


async def _events(session: AsyncSession, scope: Scope) -> list[reports.EventInfo]:
    e, v = tables.consultation_event, tables.venue
    stmt = select(e.c.event_id, e.c.event_date, e.c.venue_id, v.c.name).join(
        v, v.c.venue_id == e.c.venue_id
    )
    if scope.event_id is not None:
        stmt = stmt.where(e.c.event_id == scope.event_id)
    if scope.from_date is not None:
        stmt = stmt.where(e.c.event_date >= scope.from_date)
    if scope.to_date is not None:
        stmt = stmt.where(e.c.event_date <= scope.to_date)
    if scope.venue_id is not None:
        stmt = stmt.where(e.c.venue_id == scope.venue_id)
    return [
        reports.EventInfo(event_id=r[0], event_date=r[1], venue_id=r[2], venue_name=r[3])
        for r in await session.execute(stmt)
    ]


async def load_facts(session: AsyncSession, scope: Scope) -> reports.Facts:
    events = await _events(session, scope)
    ids = [e.event_id for e in events]
    c, r, p = tables.report_case, tables.report_referral, tables.report_parcel
    case_rows = (
        await session.execute(
            select(
                c.c.fact_id,
                c.c.event_id,
                c.c.resident_key,
                c.c.concerns,
                c.c.urgent,
                c.c.compound,
                c.c.taken_at,
            ).where(c.c.event_id.in_(ids))
        )
    ).all()
    cases = [
        reports.CaseFact(
            fact_id=row.fact_id,
            event_id=row.event_id,
            resident_key=row.resident_key,
            concerns=tuple(row.concerns),
            urgent=row.urgent,
            compound=row.compound,
            taken_at=row.taken_at,
        )
        for row in case_rows
    ]
    fact_ids = [x.fact_id for x in cases]
    referrals = [
        reports.ReferralFact(
            fact_id=row.fact_id,
            programme=row.programme,
            status=row.status,
            escalated=row.escalated,
            routed_at=row.routed_at,
            accepted_at=row.accepted_at,
            decline_reason=row.decline_reason,
            outcome=row.outcome,
        )
        for row in await session.execute(select(r).where(r.c.fact_id.in_(fact_ids)))
    ]
    parcels = [
        reports.ParcelFact(
            event_id=row.event_id, household_key=row.household_key, parcel_type=row.parcel_type
        )
        for row in await session.execute(select(p).where(p.c.event_id.in_(ids)))
    ]
    # When each of these residents first came, at any event ever.
    e = tables.consultation_event
    keys = {x.resident_key for x in cases}
    first_seen = {
        row[0]: row[1]
        for row in await session.execute(
            select(c.c.resident_key, func.min(e.c.event_date))
            .join(e, e.c.event_id == c.c.event_id)
            .where(c.c.resident_key.in_(keys))
            .group_by(c.c.resident_key)
        )
    }
    return reports.Facts(
        events=events,
        cases=cases,
        referrals=referrals,
        parcels=parcels,
        first_seen=first_seen,
        household_links=await _household_links(session, ids),
    )


async def _household_links(
    session: AsyncSession, event_ids: list[str]
) -> list[reports.HouseholdLink]:
    """The food desk's household links that reach the households of the events' parcels,
    directly or through other households (A joined B, B joined C, C joined D: a report with
    A's and D's parcels needs the link between B and C too, which names neither). One recursive
    query; ``UNION`` stops the walk at a household already reached, so a link back ends it."""
    if not event_ids:
        return []
    p, k = tables.report_parcel, tables.report_household_link
    reach = (
        select(p.c.household_key.label("key"))
        .where(p.c.event_id.in_(event_ids))
        .cte("reach", recursive=True)
    )
    reach = reach.union(
        select(case((k.c.moved_key == reach.c.key, k.c.joined_key), else_=k.c.moved_key))
        .select_from(k)
        .join(reach, or_(k.c.moved_key == reach.c.key, k.c.joined_key == reach.c.key))
    )
    found = await session.execute(
        select(k.c.moved_key, k.c.joined_key).where(k.c.moved_key.in_(select(reach.c.key)))
    )
    return [reports.HouseholdLink(moved_key=r.moved_key, joined_key=r.joined_key) for r in found]


async def report(session: AsyncSession, actor: str, scope: Scope) -> dict[str, Any]:
    """The report for ``scope`` (a missing event is NotFound); the view is audited."""
    facts = await load_facts(session, scope)
    if scope.event_id is not None and not facts.events:
        raise NotFound(scope.event_id)
    await audit.record(
        session,
        actor,
        "report.view",
        target=scope.event_id or scope.venue_id,
        scope={k: v for k, v in scope.describe().items() if v is not None},
    )
    return {"scope": scope.describe(), **reports.compute(facts)}
