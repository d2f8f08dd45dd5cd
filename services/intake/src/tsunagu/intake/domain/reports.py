"""What the council counts: plain functions over anonymous facts, no I/O.

A report covers a set of consultation events (one event, a venue, a month, a fiscal year, a
span of years). Residents are counted once per report however often they came; a resident is
*new* if their first consultation ever falls within the report, *returning* if they had one
before it. Households served are counted by the parcels' households, where two households the
food desk linked (food's ``household_linked``) are one, whenever their parcels were handed out
and whichever order the events came in (ADR 33). Every figure here is a count or a duration:
nothing in a report names anyone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from tsunagu.shared.contracts.codes import Concern, ParcelType, Programme, ReferralStatus

#: Referral statuses in the order reports show them.
STATUSES: tuple[str, ...] = tuple(s.value for s in ReferralStatus)
PROGRAMMES: tuple[str, ...] = tuple(p.value for p in Programme)
CONCERNS: tuple[str, ...] = tuple(c.value for c in Concern)
PARCEL_TYPES: tuple[str, ...] = tuple(t.value for t in ParcelType)
#: Referrals a programme has taken up or still holds: not awaiting a sharing basis
#: (``suggested``), not declined, not withdrawn. Two or more on a case is joint handling.
HANDLING = frozenset(STATUSES) - {
    ReferralStatus.SUGGESTED.value,
    ReferralStatus.DECLINED.value,
    ReferralStatus.WITHDRAWN.value,
}


@dataclass(frozen=True)
class EventInfo:
    event_id: str
    event_date: date
    venue_id: str
    venue_name: str


@dataclass(frozen=True)
class CaseFact:
    fact_id: str
    event_id: str
    resident_key: str
    concerns: tuple[str, ...]
    urgent: bool
    compound: bool
    taken_at: datetime | None = None


@dataclass(frozen=True)
class ReferralFact:
    fact_id: str
    programme: str
    status: str
    escalated: bool = False
    routed_at: datetime | None = None
    accepted_at: datetime | None = None
    decline_reason: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class ParcelFact:
    event_id: str
    household_key: str
    parcel_type: str


@dataclass(frozen=True)
class HouseholdLink:
    """The food desk found the household ``moved_key`` to be one with ``joined_key``."""

    moved_key: str
    joined_key: str


@dataclass(frozen=True)
class Facts:
    """The facts of the report's events, when each resident first came (ever), and the
    household links among the households of the report's parcels (and those they reach)."""

    events: Sequence[EventInfo]
    cases: Sequence[CaseFact]
    referrals: Sequence[ReferralFact]
    parcels: Sequence[ParcelFact]
    first_seen: dict[str, date] = field(default_factory=dict)
    household_links: Sequence[HouseholdLink] = ()


def one_household(links: Iterable[HouseholdLink]) -> dict[str, str]:
    """Every household key a link names, to the key that stands for all the households linked
    with it, directly or through others (the least of them).

    The food desk's links join households, and a joined household can be joined again (A into
    B, then B into C: one household of three). Linking is a union, so neither the order the
    links are told in nor a link told twice changes the answer; a link back (A into B, later B
    into A) is still one household of two."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]  # halve the path as it is walked
            key = parent[key]
        return key

    for link in links:
        a, b = root(link.moved_key), root(link.joined_key)
        if a != b:
            # The smaller key stands for both, so a group's root is its least key.
            parent[max(a, b)] = min(a, b)
    return {key: root(key) for key in parent}


def fiscal_year(day: date) -> int:
    """The Japanese fiscal year (年度) a day falls in: April to March, named by its April."""
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_span(year: int) -> tuple[date, date]:
    return date(year, 4, 1), date(year + 1, 3, 31)


def month_span(year: int, month: int) -> tuple[date, date]:
    start = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return start, date.fromordinal(following.toordinal() - 1)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _residents(
    cases: Iterable[CaseFact], first_seen: dict[str, date], start: date
) -> dict[str, int]:
    keys = {c.resident_key for c in cases}
    returning = sum(1 for k in keys if k in first_seen and first_seen[k] < start)
    return {"unduplicated": len(keys), "new": len(keys) - returning, "returning": returning}


def compute(facts: Facts) -> dict[str, Any]:
    """The report: the same numbers the page, the JSON, the CSV and the workbook show."""
    events = sorted(facts.events, key=lambda e: (e.event_date, e.event_id))
    by_event = {e.event_id: e for e in events}
    cases = [c for c in facts.cases if c.event_id in by_event]
    case_ids = {c.fact_id for c in cases}
    referrals = [r for r in facts.referrals if r.fact_id in case_ids]
    # Each parcel counted for the household it stands for now, if the desk linked its own.
    household = one_household(facts.household_links)
    parcels = [
        replace(p, household_key=household.get(p.household_key, p.household_key))
        for p in facts.parcels
        if p.event_id in by_event
    ]
    start = events[0].event_date if events else date.max

    concerns = Counter(code for c in cases for code in set(c.concerns))
    by_programme: dict[str, dict[str, int]] = {p: dict.fromkeys(STATUSES, 0) for p in PROGRAMMES}
    reasons: dict[str, Counter[str]] = {p: Counter() for p in PROGRAMMES}
    outcomes: dict[str, Counter[str]] = {p: Counter() for p in PROGRAMMES}
    programmes_of: dict[str, set[str]] = {}
    waits: list[float] = []
    for r in referrals:
        counts = by_programme.setdefault(r.programme, dict.fromkeys(STATUSES, 0))
        counts[r.status] = counts.get(r.status, 0) + 1
        if r.status == ReferralStatus.DECLINED.value:
            reasons.setdefault(r.programme, Counter())[r.decline_reason or "unstated"] += 1
        if r.status == ReferralStatus.CLOSED.value:
            outcomes.setdefault(r.programme, Counter())[r.outcome or "unstated"] += 1
        if r.status in HANDLING:
            programmes_of.setdefault(r.fact_id, set()).add(r.programme)
        if r.accepted_at is not None and r.routed_at is not None:
            waits.append((r.accepted_at - r.routed_at).total_seconds() / 3600)

    parcel_types = Counter(p.parcel_type for p in parcels)
    cases_at: dict[str, list[CaseFact]] = {e.event_id: [] for e in events}
    for c in cases:
        cases_at[c.event_id].append(c)
    parcels_at: dict[str, list[ParcelFact]] = {e.event_id: [] for e in events}
    for p in parcels:
        parcels_at[p.event_id].append(p)
    per_event = []
    for e in events:
        here, mine = cases_at[e.event_id], parcels_at[e.event_id]
        per_event.append(
            {
                "event_id": e.event_id,
                "date": e.event_date.isoformat(),
                "venue_id": e.venue_id,
                "venue_name": e.venue_name,
                "cases": len(here),
                "residents": _residents(here, facts.first_seen, e.event_date),
                "parcels": len(mine),
                "households_served": len({p.household_key for p in mine}),
            }
        )
    per_year = []
    for year in sorted({fiscal_year(e.event_date) for e in events}):
        in_year = [e for e in events if fiscal_year(e.event_date) == year]
        here = [c for e in in_year for c in cases_at[e.event_id]]
        mine = [p for e in in_year for p in parcels_at[e.event_id]]
        per_year.append(
            {
                "fiscal_year": year,
                "events": len(in_year),
                "cases": len(here),
                "residents": _residents(here, facts.first_seen, in_year[0].event_date),
                "parcels": len(mine),
                "households_served": len({p.household_key for p in mine}),
            }
        )

    return {
        "events": len(events),
        "cases": len(cases),
        "residents": _residents(cases, facts.first_seen, start),
        "concerns": {code: concerns.get(code, 0) for code in CONCERNS},
        "compound_cases": sum(1 for c in cases if c.compound),
        "urgent_cases": sum(1 for c in cases if c.urgent),
        "joint_handling_cases": sum(1 for p in programmes_of.values() if len(p) >= 2),
        "referrals": {
            "by_programme": by_programme,
            "declined_reasons": {p: dict(sorted(c.items())) for p, c in reasons.items() if c},
            "closed_outcomes": {p: dict(sorted(c.items())) for p, c in outcomes.items() if c},
            "escalations": sum(1 for r in referrals if r.escalated),
            "hours_to_acceptance": {
                "accepted": len(waits),
                "median": _round(percentile(waits, 50)),
                "p90": _round(percentile(waits, 90)),
            },
        },
        "food": {
            "parcels": {t: parcel_types.get(t, 0) for t in PARCEL_TYPES},
            "parcels_total": len(parcels),
            "households_served": len({p.household_key for p in parcels}),
        },
        "per_event": per_event,
        "per_fiscal_year": per_year,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def rows(report: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """The report as (section, item, detail, value) rows: what CSV and the workbook hold."""
    out: list[tuple[str, str, str, Any]] = [
        ("summary", "events", "", report["events"]),
        ("summary", "cases", "", report["cases"]),
    ]
    out += [("residents", k, "", v) for k, v in report["residents"].items()]
    out += [("concerns", k, "", v) for k, v in report["concerns"].items()]
    out += [
        ("summary", "compound_cases", "", report["compound_cases"]),
        ("summary", "urgent_cases", "", report["urgent_cases"]),
        ("summary", "joint_handling_cases", "", report["joint_handling_cases"]),
    ]
    referrals = report["referrals"]
    for programme, counts in referrals["by_programme"].items():
        out += [("referrals", programme, status, n) for status, n in counts.items()]
    for programme, counts in referrals["declined_reasons"].items():
        out += [("declined_reasons", programme, reason, n) for reason, n in counts.items()]
    for programme, counts in referrals["closed_outcomes"].items():
        out += [("closed_outcomes", programme, outcome, n) for outcome, n in counts.items()]
    out.append(("summary", "escalations", "", referrals["escalations"]))
    out += [("hours_to_acceptance", k, "", v) for k, v in referrals["hours_to_acceptance"].items()]
    out += [("food_parcels", t, "", n) for t, n in report["food"]["parcels"].items()]
    out.append(("food", "parcels_total", "", report["food"]["parcels_total"]))
    out.append(("food", "households_served", "", report["food"]["households_served"]))
    for e in report["per_event"]:
        where = f"{e['date']} {e['venue_name']}"
        out += [
            ("per_event", e["event_id"], "date_venue", where),
            ("per_event", e["event_id"], "cases", e["cases"]),
            ("per_event", e["event_id"], "residents", e["residents"]["unduplicated"]),
            ("per_event", e["event_id"], "new", e["residents"]["new"]),
            ("per_event", e["event_id"], "returning", e["residents"]["returning"]),
            ("per_event", e["event_id"], "parcels", e["parcels"]),
            ("per_event", e["event_id"], "households_served", e["households_served"]),
        ]
    for y in report["per_fiscal_year"]:
        year = str(y["fiscal_year"])
        out += [
            ("per_fiscal_year", year, "events", y["events"]),
            ("per_fiscal_year", year, "cases", y["cases"]),
            ("per_fiscal_year", year, "residents", y["residents"]["unduplicated"]),
            ("per_fiscal_year", year, "new", y["residents"]["new"]),
            ("per_fiscal_year", year, "returning", y["residents"]["returning"]),
            ("per_fiscal_year", year, "parcels", y["parcels"]),
            ("per_fiscal_year", year, "households_served", y["households_served"]),
        ]
    return out
