"""The report's arithmetic on facts built by hand: periods, percentiles, new and returning."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from tsunagu.intake.domain import reports
from tsunagu.intake.domain.reports import (
    CaseFact,
    EventInfo,
    Facts,
    HouseholdLink,
    ParcelFact,
    ReferralFact,
)
from tsunagu.intake.service_layer.report_facts import as_code


@pytest.mark.parametrize(
    ("day", "year"),
    [(date(2026, 4, 1), 2026), (date(2026, 3, 31), 2025), (date(2027, 1, 5), 2026)],
)
def test_the_fiscal_year_runs_from_april_to_march(day: date, year: int) -> None:
    assert reports.fiscal_year(day) == year
    start, end = reports.fiscal_year_span(year)
    assert start <= day <= end


def test_month_spans_end_on_the_last_day() -> None:
    assert reports.month_span(2026, 2) == (date(2026, 2, 1), date(2026, 2, 28))
    assert reports.month_span(2026, 12) == (date(2026, 12, 1), date(2026, 12, 31))


def test_percentiles_interpolate_between_ranks() -> None:
    assert reports.percentile([], 50) is None
    assert reports.percentile([4.0], 90) == 4.0
    assert reports.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert reports.percentile([10.0, 0.0], 90) == pytest.approx(9.0)


def test_free_text_reasons_are_never_kept() -> None:
    assert as_code("no_capacity") == "no_capacity"
    assert as_code("  moved_away ") == "moved_away"
    assert as_code("山田さんが対応") == "other"
    assert as_code("Called Mr Sato") == "other"
    assert as_code("") is None
    assert as_code(None) is None


def _facts() -> Facts:
    spring = EventInfo("e1", date(2026, 4, 10), "v", "会場")
    autumn = EventInfo("e2", date(2026, 10, 10), "v", "会場")
    t0 = datetime(2026, 4, 10, 1, tzinfo=UTC)
    cases = [
        CaseFact("c1", "e1", "r1", ("housing",), urgent=False, compound=False),
        CaseFact("c2", "e2", "r1", ("housing", "isolation"), urgent=True, compound=True),
        CaseFact("c3", "e2", "r2", ("isolation", "isolation"), urgent=False, compound=False),
        CaseFact("c4", "e2", "r3", ("debt_arrears",), urgent=False, compound=False),
    ]
    referrals = [
        ReferralFact(
            "c2", "life_independence", "accepted", routed_at=t0, accepted_at=t0 + timedelta(hours=1)
        ),
        ReferralFact(
            "c2", "welfare_fund", "in_progress", routed_at=t0, accepted_at=t0 + timedelta(hours=3)
        ),
        ReferralFact("c3", "csw_participation", "declined", decline_reason="outside_remit"),
        ReferralFact("c3", "welfare_fund", "suggested"),
        ReferralFact("c4", "welfare_fund", "closed", outcome=None, escalated=True),
        ReferralFact("elsewhere", "welfare_fund", "accepted"),  # another event's case
    ]
    parcels = [
        ParcelFact("e2", "h1", "standard"),
        ParcelFact("e2", "h1", "infant"),
        ParcelFact("e1", "h1", "standard"),
        ParcelFact("other-event", "h9", "standard"),
    ]
    # r3 first came the year before.
    first_seen = {"r1": spring.event_date, "r2": autumn.event_date, "r3": date(2025, 6, 1)}
    return Facts([autumn, spring], cases, referrals, parcels, first_seen)


def test_a_span_counts_each_resident_once() -> None:
    r = reports.compute(_facts())
    assert r["events"] == 2
    assert r["cases"] == 4
    assert r["residents"] == {"unduplicated": 3, "new": 2, "returning": 1}
    assert r["concerns"]["housing"] == 2
    assert r["concerns"]["isolation"] == 2  # a concern named twice on one case counts once
    assert r["compound_cases"] == 1
    assert r["urgent_cases"] == 1
    assert r["joint_handling_cases"] == 1  # c2; c3's decline and suggestion do not count
    assert r["referrals"]["by_programme"]["welfare_fund"] == {
        "suggested": 1,
        "pending": 0,
        "accepted": 0,
        "declined": 0,
        "in_progress": 1,
        "closed": 1,
        "escalated": 0,
        "withdrawn": 0,
    }
    assert r["referrals"]["declined_reasons"] == {"csw_participation": {"outside_remit": 1}}
    assert r["referrals"]["closed_outcomes"] == {"welfare_fund": {"unstated": 1}}
    assert r["referrals"]["escalations"] == 1
    assert r["referrals"]["hours_to_acceptance"] == {"accepted": 2, "median": 2.0, "p90": 2.8}
    assert r["food"]["parcels_total"] == 3
    assert r["food"]["households_served"] == 1


def test_each_event_and_year_counts_new_and_returning_on_its_own_date() -> None:
    r = reports.compute(_facts())
    assert [e["event_id"] for e in r["per_event"]] == ["e1", "e2"]
    spring, autumn = r["per_event"]
    assert spring["residents"] == {"unduplicated": 1, "new": 1, "returning": 0}
    # r1 came in spring, r3 last year: both return; r2 is new.
    assert autumn["residents"] == {"unduplicated": 3, "new": 1, "returning": 2}
    assert (autumn["parcels"], autumn["households_served"]) == (2, 1)
    assert [(y["fiscal_year"], y["cases"], y["events"]) for y in r["per_fiscal_year"]] == [
        (2026, 4, 2)
    ]


def test_rows_carry_every_figure_once() -> None:
    r = reports.compute(_facts())
    flat = reports.rows(r)
    keyed = {(s, i, d): v for s, i, d, v in flat}
    assert len(keyed) == len(flat)
    assert keyed[("residents", "unduplicated", "")] == 3
    assert keyed[("referrals", "welfare_fund", "closed")] == 1
    assert keyed[("food", "households_served", "")] == 1
    assert keyed[("per_event", "e2", "returning")] == 2


def test_an_empty_report_is_all_zeros() -> None:
    r = reports.compute(Facts([], [], [], []))
    assert r["cases"] == 0
    assert r["residents"] == {"unduplicated": 0, "new": 0, "returning": 0}
    assert r["referrals"]["hours_to_acceptance"] == {"accepted": 0, "median": None, "p90": None}


# --- households the food desk linked (ADR 33) ------------------------------------------------


def _groups(links: list[HouseholdLink]) -> set[frozenset[str]]:
    """The households ``one_household`` makes of ``links``: the keys standing for each one."""
    same = reports.one_household(links)
    return {frozenset(k for k in same if same[k] == root) for root in set(same.values())}


def test_linked_households_are_one_in_any_order_and_told_any_number_of_times() -> None:
    links = [HouseholdLink("hB", "hA"), HouseholdLink("hC", "hB"), HouseholdLink("hE", "hD")]
    expected = {frozenset({"hA", "hB", "hC"}), frozenset({"hD", "hE"})}
    for order in itertools.permutations(links):
        assert _groups(list(order)) == expected
        assert _groups(list(order) + list(order)) == expected  # each told twice
    same = reports.one_household(links)
    assert same["hC"] == same["hA"] == "hA"  # the least key stands for the household
    assert "hZ" not in same  # a household never linked stands for itself


def test_a_link_back_or_through_others_is_still_one_household() -> None:
    # B joined A, and later (a new case of A's resident at another event) A joined B.
    assert _groups([HouseholdLink("hB", "hA"), HouseholdLink("hA", "hB")]) == {
        frozenset({"hA", "hB"})
    }
    # X joined Z, Z joined W, W joined Y: X and Y are one though no link names both.
    chain = [HouseholdLink("hX", "hZ"), HouseholdLink("hZ", "hW"), HouseholdLink("hW", "hY")]
    same = reports.one_household(chain)
    assert same["hX"] == same["hY"] == same["hW"] == same["hZ"]


def _parcels_facts(links: list[HouseholdLink]) -> Facts:
    spring = EventInfo("e1", date(2026, 4, 10), "v", "会場")
    autumn = EventInfo("e2", date(2026, 10, 10), "v", "会場")
    parcels = [
        ParcelFact("e1", "hA", "standard"),
        ParcelFact("e1", "hB", "standard"),  # B was served in spring, before the link
        ParcelFact("e2", "hA", "standard"),
        ParcelFact("e2", "hB", "infant"),
        ParcelFact("e2", "hC", "no_pork"),
        ParcelFact("other-event", "hA", "standard"),
    ]
    return Facts([spring, autumn], [], [], parcels, {}, links)


def test_households_served_count_linked_households_once_at_every_event_and_year() -> None:
    unlinked = reports.compute(_parcels_facts([]))
    assert unlinked["food"]["households_served"] == 3
    assert [e["households_served"] for e in unlinked["per_event"]] == [2, 3]
    assert unlinked["per_fiscal_year"][0]["households_served"] == 3

    # In autumn the desk linked B's household to A's: B's parcels count for A's household,
    # the one handed out in spring too; C stays a household of its own.
    linked = reports.compute(_parcels_facts([HouseholdLink("hB", "hA")]))
    assert linked["food"]["households_served"] == 2
    assert [e["households_served"] for e in linked["per_event"]] == [1, 2]
    assert linked["per_fiscal_year"][0]["households_served"] == 2
    # Parcels are counted as handed out: a link changes whose they are, not how many.
    assert linked["food"]["parcels"] == unlinked["food"]["parcels"]
    assert [e["parcels"] for e in linked["per_event"]] == [2, 3]
    keyed = {(s, i, d): v for s, i, d, v in reports.rows(linked)}
    assert keyed[("food", "households_served", "")] == 2
    assert keyed[("per_event", "e2", "households_served")] == 2


def test_a_link_to_a_household_without_parcels_joins_the_others_through_it() -> None:
    # B joined Z (no parcel in this report), and Z joined C: A, then B with C.
    facts = _parcels_facts([HouseholdLink("hB", "hZ"), HouseholdLink("hZ", "hC")])
    r = reports.compute(facts)
    assert [e["households_served"] for e in r["per_event"]] == [2, 2]
    assert r["food"]["households_served"] == 2
