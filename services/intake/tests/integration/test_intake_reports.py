"""Reports on real Kafka and PostgreSQL: counts known by construction, in JSON, CSV and xlsx.

Each test uses a venue of its own, so the figures are exactly what the test put there.
Cases go in through the API (intake's own ``case_created`` feeds the report facts over Kafka);
routing's and food's events are published on their topics as those services would.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from intake_helpers import App, case_body, eventually, publish, token
from openpyxl import load_workbook
from sqlalchemy import func, select

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.domain.reports import rows
from tsunagu.intake.service_layer import report_facts
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import FOOD, REPORTS_GROUP_SUFFIX, ROUTING_CASE
from tsunagu.shared.runtime import record_erasure

pytestmark = pytest.mark.integration

T0 = datetime(2026, 5, 10, 1, 0, tzinfo=UTC)


async def new_venue_with_events(app: App, *days: date) -> tuple[str, list[str]]:
    venue_id = f"rep-{uuid.uuid4().hex[:8]}"
    async with app.runtime.sessions() as session, session.begin():
        await staff_service.save_venue(session, "test", venue_id, f"会場 {venue_id}", None)
        ids = [
            await staff_service.create_event(
                session,
                "test",
                venue_id=venue_id,
                event_date=day,
                opens_at=time(10),
                closes_at=time(15),
                programmes=["life_independence", "csw_participation", "welfare_fund"],
            )
            for day in days
        ]
        # Events of other days: residents are taken in there only with an admin's leave.
        for event_id in ids:
            await staff_service.set_late_intake(session, "admin", event_id, "報告の検証用")
    return venue_id, ids


class Desk:
    """Takes residents in at an event through the API and stands in for routing and food."""

    def __init__(self, app: App, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def take_in(
        self, event_id: str, concerns: list[str], resident_id: str | None = None, **changes: Any
    ) -> dict[str, str]:
        body = case_body(concerns=concerns, most_pressing=concerns[0], **changes)
        body["event_id"] = event_id
        params = {"resident_id": resident_id} if resident_id else {}
        response = await self.app.client.post(
            "/api/v1/cases", json=body, headers=self.headers, params=params
        )
        assert response.status_code == 201, response.text
        created = response.json()
        c = tables.case
        async with self.app.runtime.sessions() as session:
            row = (
                await session.execute(
                    select(c.c.resident_id, c.c.household_id).where(
                        c.c.case_id == created["case_id"]
                    )
                )
            ).one()
        return {**created, "resident_id": row.resident_id, "household_id": row.household_id}

    async def routed(
        self, case: dict[str, str], event_id: str, programmes: list[str], **extra: Any
    ) -> list[str]:
        referrals = [
            {
                "referral_id": str(uuid.uuid4()),
                "programme": p,
                "role": "lead" if i == 0 else "member",
                "status": "pending",
                "reasons": [],
            }
            for i, p in enumerate(programmes)
        ]
        data = {
            "case_id": case["case_id"],
            "case_number": case["case_number"],
            "event_id": event_id,
            "rule_version": "test",
            "lead": programmes[0],
            "compound": len(programmes) > 1,
            "urgent": False,
            "food_parcel_eligible": True,
            "referrals": referrals,
            **extra,
        }
        await self.routing("case_routed", case, data, occurred_at=T0)
        return [r["referral_id"] for r in referrals]

    async def status(
        self,
        case: dict[str, str],
        referral_id: str,
        programme: str,
        status: str,
        at: datetime,
        **extra: Any,
    ) -> None:
        data = {
            "case_id": case["case_id"],
            "case_number": case["case_number"],
            "referral_id": referral_id,
            "programme": programme,
            "status": status,
            "previous_status": "pending",
            "by": programme,
            **extra,
        }
        await self.routing("referral_status_changed", case, data, occurred_at=at)

    async def routing(self, event_type: str, case: dict[str, str], data: dict, **env: Any) -> None:
        envelope = Envelope(event_type=event_type, producer="routing", data=data, **env)
        await publish(
            self.app.settings.kafka_bootstrap, ROUTING_CASE.name, case["case_id"], envelope
        )

    async def parcel(self, case: dict[str, str], event_id: str, parcel_type: str) -> None:
        envelope = Envelope(
            event_type="parcel_handed_out",
            producer="food_distribution",
            data={
                "handout_id": str(uuid.uuid4()),
                "case_id": case["case_id"],
                "household_id": case["household_id"],
                "event_id": event_id,
                "parcel_type": parcel_type,
                "handed_out_by": "food",
                "handed_out_at": datetime.now(UTC).isoformat(),
            },
        )
        await publish(self.app.settings.kafka_bootstrap, FOOD.name, case["case_id"], envelope)

    async def link(
        self, case: dict[str, str], event_id: str, *, moved: str, joined: str
    ) -> Envelope:
        """Food's ``household_linked``: at the desk, ``case``'s household ``moved`` joined
        ``joined``. Keyed by that case, as food publishes it."""
        envelope = Envelope(
            event_type="household_linked",
            producer="food_distribution",
            data={
                "case_id": case["case_id"],
                "event_id": event_id,
                "moved_household_id": moved,
                "joined_household_id": joined,
                "linked_at": datetime.now(UTC).isoformat(),
            },
        )
        await self.again(case, envelope)
        return envelope

    async def again(self, case: dict[str, str], envelope: Envelope) -> None:
        """Publish ``envelope`` on food's topic (again), keyed by ``case``."""
        await publish(self.app.settings.kafka_bootstrap, FOOD.name, case["case_id"], envelope)


async def report(app: App, headers: dict[str, str], path: str, **params: Any) -> dict[str, Any]:
    response = await app.client.get(f"/api/v1/reports/{path}", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def settled(app: App, headers: dict[str, str], path: str, done) -> dict[str, Any]:
    """The report once ``done(report)`` holds (the facts arrive over Kafka)."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        found.clear()
        found.update(await report(app, headers, path))
        return bool(done(found))

    await eventually(check)
    return found


def referral_counts(r: dict[str, Any], programme: str) -> dict[str, int]:
    return {k: v for k, v in r["referrals"]["by_programme"][programme].items() if v}


async def test_an_event_report_counts_what_was_built(intake_app: App) -> None:
    """Two events at one venue; duplicates, a returner, declines and handouts by construction."""
    app = intake_app
    last_year = date(2025, 11, 15)
    this_year = date(2026, 5, 10)
    _, (earlier, event) = await new_venue_with_events(app, last_year, this_year)
    desk = Desk(app, await token(app.client, "uketsuke"))
    admin = await token(app.client, "admin")

    # Last year: Ms A came once.
    a_before = await desk.take_in(earlier, ["income_shortfall"])
    # This year: A returns; B comes twice (a duplicate); C comes once, urgently.
    a = await desk.take_in(event, ["debt_arrears", "isolation"], a_before["resident_id"])
    b1 = await desk.take_in(event, ["housing"])
    b2 = await desk.take_in(event, ["housing", "employment"], b1["resident_id"])
    c = await desk.take_in(event, ["food_insecurity"], urgent__no_food_today=True)

    a_refs = await desk.routed(a, event, ["life_independence", "csw_participation", "welfare_fund"])
    b_refs = await desk.routed(b1, event, ["welfare_fund"])
    c_refs = await desk.routed(c, event, ["life_independence"], urgent=True)
    # Accepted after 2 and 10 hours; one decline with a code, one with free text; one closed.
    await desk.status(a, a_refs[0], "life_independence", "accepted", T0 + timedelta(hours=2))
    await desk.status(a, a_refs[1], "csw_participation", "declined", T0, reason="outside_remit")
    await desk.status(
        b1, b_refs[0], "welfare_fund", "declined", T0, reason="本人が山田さんに相談済み"
    )
    await desk.status(c, c_refs[0], "life_independence", "accepted", T0 + timedelta(hours=10))
    await desk.status(
        c, c_refs[0], "life_independence", "closed", T0 + timedelta(days=3), outcome="resolved"
    )
    await desk.routing(
        "referral_escalated",
        b1,
        {
            "case_id": b1["case_id"],
            "case_number": b1["case_number"],
            "referral_id": b_refs[0],
            "programme": "welfare_fund",
            "urgent": False,
            "deadline_at": T0.isoformat(),
            "escalated_at": T0.isoformat(),
        },
    )
    # Parcels: A standard; B's household twice (standard, infant); C none.
    await desk.parcel(a, event, "standard")
    await desk.parcel(b1, event, "standard")
    await desk.parcel(b2, event, "infant")

    r = await settled(
        app,
        admin,
        f"events/{event}",
        lambda r: (
            r["cases"] == 4
            and r["food"]["parcels_total"] == 3
            and r["referrals"]["escalations"] == 1
            and r["referrals"]["by_programme"]["life_independence"]["closed"] == 1
            and sum(r["referrals"]["by_programme"]["welfare_fund"].values()) == 2
            and r["referrals"]["by_programme"]["welfare_fund"]["declined"] == 1
            and r["referrals"]["by_programme"]["csw_participation"]["declined"] == 1
            and r["referrals"]["hours_to_acceptance"]["accepted"] == 2
        ),
    )
    assert r["events"] == 1
    assert r["residents"] == {"unduplicated": 3, "new": 2, "returning": 1}
    concerns = {k: v for k, v in r["concerns"].items() if v}
    assert concerns == {
        "debt_arrears": 1,
        "isolation": 1,
        "housing": 2,
        "employment": 1,
        "food_insecurity": 1,
    }
    assert r["compound_cases"] == 1
    assert r["urgent_cases"] == 1
    # A: life_independence accepted and welfare_fund pending (csw declined); B, C one each.
    assert r["joint_handling_cases"] == 1
    assert referral_counts(r, "life_independence") == {"accepted": 1, "closed": 1}
    assert referral_counts(r, "csw_participation") == {"declined": 1}
    assert referral_counts(r, "welfare_fund") == {"pending": 1, "declined": 1}
    assert r["referrals"]["declined_reasons"] == {
        "csw_participation": {"outside_remit": 1},
        "welfare_fund": {"other": 1},  # free text is never kept
    }
    assert r["referrals"]["closed_outcomes"] == {"life_independence": {"resolved": 1}}
    assert r["referrals"]["hours_to_acceptance"] == {"accepted": 2, "median": 6.0, "p90": 9.2}
    assert r["food"]["parcels"] == {
        "standard": 2,
        "no_pork": 0,
        "allergy_friendly": 0,
        "infant": 1,
    }
    assert r["food"]["households_served"] == 2

    # Across both events (fiscal years 2025 and 2026): three residents, all new to the span.
    span = await report(app, admin, "period", **{"from": "2025-04-01", "to": "2027-03-31"})
    mine = [e for e in span["per_event"] if e["event_id"] in (earlier, event)]
    assert [e["cases"] for e in mine] == [1, 4]
    fy = await report(app, admin, "period", fiscal_year=2026, venue_id=mine[0]["venue_id"])
    assert fy["residents"] == {"unduplicated": 3, "new": 2, "returning": 1}
    assert fy["cases"] == 4
    both = await report(
        app, admin, "period", venue_id=mine[0]["venue_id"], **{"from": "2025-01-01"}
    )
    assert both["residents"] == {"unduplicated": 3, "new": 3, "returning": 0}
    assert [(y["fiscal_year"], y["cases"]) for y in both["per_fiscal_year"]] == [
        (2025, 1),
        (2026, 4),
    ]
    month = await report(app, admin, "period", month="2026-05", venue_id=mine[0]["venue_id"])
    assert month["cases"] == 4


async def test_counts_rise_by_exactly_what_is_added(intake_app: App) -> None:
    app = intake_app
    _, (event,) = await new_venue_with_events(app, date(2026, 6, 1))
    desk = Desk(app, await token(app.client, "uketsuke"))
    admin = await token(app.client, "admin")
    first = await desk.take_in(event, ["housing"])
    refs = await desk.routed(first, event, ["life_independence"])
    await desk.parcel(first, event, "standard")
    before = await settled(
        app,
        admin,
        f"events/{event}",
        lambda r: (
            r["cases"] == 1
            and r["food"]["parcels_total"] == 1
            and r["referrals"]["by_programme"]["life_independence"]["pending"] == 1
        ),
    )

    # Add one new resident with two concerns, two referrals (one accepted), one parcel.
    second = await desk.take_in(event, ["housing", "debt_arrears"])
    added = await desk.routed(second, event, ["life_independence", "welfare_fund"])
    await desk.status(second, added[1], "welfare_fund", "accepted", T0 + timedelta(hours=1))
    await desk.parcel(second, event, "no_pork")
    after = await settled(
        app,
        admin,
        f"events/{event}",
        lambda r: (
            r["cases"] == 2
            and r["food"]["parcels_total"] == 2
            and r["referrals"]["by_programme"]["life_independence"]["pending"] == 2
            and r["referrals"]["by_programme"]["welfare_fund"]["accepted"] == 1
        ),
    )
    assert after["residents"]["unduplicated"] == before["residents"]["unduplicated"] + 1
    assert after["cases"] == before["cases"] + 1
    assert after["concerns"]["housing"] == before["concerns"]["housing"] + 1
    assert after["concerns"]["debt_arrears"] == before["concerns"]["debt_arrears"] + 1
    li, wf = "life_independence", "welfare_fund"
    assert referral_counts(after, li) == {"pending": referral_counts(before, li)["pending"] + 1}
    assert referral_counts(after, wf) == {"accepted": 1}
    assert after["food"]["parcels"]["no_pork"] == before["food"]["parcels"]["no_pork"] + 1
    assert after["food"]["households_served"] == before["food"]["households_served"] + 1
    assert after["joint_handling_cases"] == before["joint_handling_cases"] + 1
    assert after["compound_cases"] == before["compound_cases"] + 1
    assert refs  # the first case's referral stayed pending throughout


async def test_csv_and_workbook_hold_the_same_numbers(intake_app: App) -> None:
    app = intake_app
    _, (event,) = await new_venue_with_events(app, date(2026, 7, 1))
    desk = Desk(app, await token(app.client, "uketsuke"))
    admin = await token(app.client, "admin")
    case = await desk.take_in(event, ["isolation"])
    await desk.parcel(case, event, "standard")
    r = await settled(
        app, admin, f"events/{event}", lambda r: r["cases"] == 1 and r["food"]["parcels_total"] == 1
    )
    expected = [(s, i, d, v) for s, i, d, v in rows(r)]

    response = await app.client.get(
        f"/api/v1/reports/events/{event}", headers=admin, params={"format": "csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert table[0] == ["section", "item", "detail", "label", "value"]
    assert [(s, i, d, v) for s, i, d, _, v in table[1:]] == [
        (s, i, d, "" if v is None else str(v)) for s, i, d, v in expected
    ]
    labels = {(s, i): label for s, i, _, label, _ in table[1:]}
    assert labels[("residents", "unduplicated")] == "相談者 / 相談者数（重複なし）"

    response = await app.client.get(
        f"/api/v1/reports/events/{event}", headers=admin, params={"format": "xlsx"}
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["report"]
    values = [tuple(row) for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert [(s, i, d or "", v) for s, i, d, _, v in values] == [
        (s, i, d, v) for s, i, d, v in expected
    ]
    per_event = list(book["per_event"].iter_rows(min_row=2, values_only=True))
    assert per_event == [("2026-07-01", r["per_event"][0]["venue_name"], event, 1, 1, 1, 0, 1, 1)]


async def test_reports_are_for_admins_and_managers_only(intake_app: App) -> None:
    app = intake_app
    _, (event,) = await new_venue_with_events(app, date(2026, 8, 1))
    for username, status in (("uketsuke", 403), ("food", 403), ("admin", 200), ("manager", 200)):
        headers = await token(app.client, username)
        response = await app.client.get(f"/api/v1/reports/events/{event}", headers=headers)
        assert response.status_code == status, username
    assert (await app.client.get(f"/api/v1/reports/events/{event}")).status_code == 401
    admin = await token(app.client, "admin")
    missing = await app.client.get("/api/v1/reports/events/no-such-event", headers=admin)
    assert missing.status_code == 404
    both = await app.client.get(
        "/api/v1/reports/period", headers=admin, params={"month": "2026-05", "fiscal_year": 2026}
    )
    assert both.status_code == 422
    # A manager sees no case at all.
    manager = await token(app.client, "manager")
    listed = await app.client.get("/api/v1/cases", headers=manager)
    assert listed.status_code == 200
    assert listed.json()["items"] == []


async def test_forgetting_a_resident_keeps_every_count(intake_app: App) -> None:
    """What erasure does to the facts: nothing links them to the resident, the counts stay."""
    app = intake_app
    _, (event,) = await new_venue_with_events(app, date(2026, 9, 1))
    desk = Desk(app, await token(app.client, "uketsuke"))
    admin = await token(app.client, "admin")
    case = await desk.take_in(event, ["debt_arrears"])
    refs = await desk.routed(case, event, ["life_independence", "welfare_fund"])
    await desk.status(case, refs[0], "life_independence", "accepted", T0 + timedelta(hours=3))
    await desk.parcel(case, event, "standard")
    before = await settled(
        app,
        admin,
        f"events/{event}",
        lambda r: (
            r["cases"] == 1
            and r["food"]["parcels_total"] == 1
            and r["referrals"]["hours_to_acceptance"]["accepted"] == 1
            and sum(r["referrals"]["by_programme"]["welfare_fund"].values()) == 1
        ),
    )

    # As the erasure does (service_layer.erasure): the facts are unlinked and the case's
    # tombstone kept in one transaction, so an event of the case still on its way (a twin on
    # another topic) is recorded and not applied, and brings no id back.
    async with app.runtime.sessions() as session, session.begin():
        forgotten = await report_facts.forget_resident(
            session, case["resident_id"], [case["case_id"]]
        )
        assert forgotten == 1
        await record_erasure(
            session, tables, case["case_id"], case["resident_id"], datetime.now(UTC)
        )

    after = await report(app, admin, f"events/{event}")
    changed = {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}
    assert after == before, f"changed by the erasure (before, after): {changed}"
    ids = {case["case_id"], case["resident_id"], *refs}
    async with app.runtime.sessions() as session:
        for table in (
            tables.report_case,
            tables.report_referral,
            tables.report_parcel,
            tables.report_pseudonym,
        ):
            for column in table.columns:
                hits = await session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(func.cast(column, tables.case.c.case_id.type).in_(ids))
                )
                assert hits == 0, f"{table.name}.{column.name} still holds an id"


async def test_the_reports_page_shows_the_same_figures_with_the_chart_library(
    intake_app: App,
) -> None:
    app = intake_app
    _, (event,) = await new_venue_with_events(app, date(2026, 10, 1))
    desk = Desk(app, await token(app.client, "uketsuke"))
    admin = await token(app.client, "admin")
    case = await desk.take_in(event, ["childcare"])
    await desk.parcel(case, event, "infant")
    r = await settled(
        app, admin, f"events/{event}", lambda r: r["cases"] == 1 and r["food"]["parcels_total"] == 1
    )

    page = await app.client.get("/reports", params={"event_id": event}, headers=admin)
    assert page.status_code == 200
    html = page.text
    assert f'<dd data-figure="cases">{r["cases"]}</dd>' in html
    assert f'<dd data-figure="residents">{r["residents"]["unduplicated"]}</dd>' in html
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer></script>' in html
    assert f"/api/v1/reports/events/{event}?format=xlsx" in html
    library = await app.client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert library.status_code == 200 and b"Chart.js v4" in library.content[:200]
    assert (await app.client.get("/static/vendor/chartjs/LICENSE.md")).status_code == 200

    intake_staff = await token(app.client, "uketsuke")
    assert (await app.client.get("/reports", headers=intake_staff)).status_code == 403
    period = await app.client.get(
        "/reports",
        params={"month": "2026-10", "venue_id": r["per_event"][0]["venue_id"]},
        headers=admin,
    )
    assert period.status_code == 200
    assert f'<dd data-figure="cases">{r["cases"]}</dd>' in period.text
    bad = await app.client.get(
        "/reports", params={"from": "2026-10-02", "to": "2026-10-01"}, headers=admin
    )
    assert bad.status_code == 422
    assert "終了日は開始日以降にしてください" in bad.text


async def test_a_rerouted_case_counts_its_referrals_as_they_now_stand(intake_app: App) -> None:
    app = intake_app
    _, (event,) = await new_venue_with_events(app, date(2026, 11, 1))
    desk = Desk(app, await token(app.client, "uketsuke"))
    admin = await token(app.client, "admin")
    case = await desk.take_in(event, ["housing"])
    li, wf = await desk.routed(case, event, ["life_independence", "welfare_fund"])
    # Corrected: welfare_fund is no longer needed, elderly_support is added.
    added = str(uuid.uuid4())
    referrals = [
        {"referral_id": li, "programme": "life_independence", "role": "lead", "status": "pending"},
        {"referral_id": wf, "programme": "welfare_fund", "role": "member", "status": "withdrawn"},
        {
            "referral_id": added,
            "programme": "elderly_support",
            "role": "member",
            "status": "pending",
        },
    ]
    data = {
        "case_id": case["case_id"],
        "case_number": case["case_number"],
        "event_id": event,
        "rule_version": "test",
        "lead": "life_independence",
        "compound": True,
        "urgent": False,
        "food_parcel_eligible": False,
        "referrals": referrals,
        "added": [added],
        "withdrawn": [wf],
    }
    await desk.routing("case_rerouted", case, data, schema_version=2)
    r = await settled(
        app,
        admin,
        f"events/{event}",
        lambda r: (
            r["cases"] == 1 and r["referrals"]["by_programme"]["elderly_support"]["pending"] == 1
        ),
    )
    assert referral_counts(r, "welfare_fund") == {"withdrawn": 1}
    assert referral_counts(r, "life_independence") == {"pending": 1}
    assert r["compound_cases"] == 1
    assert r["joint_handling_cases"] == 1  # life_independence and elderly_support


# --- households the food desk linked (ADR 33) ------------------------------------------------


def households_served(r: dict[str, Any]) -> tuple[int, int, int]:
    """Households served in the report, at its one event and in its one fiscal year."""
    return (
        r["food"]["households_served"],
        r["per_event"][0]["households_served"],
        r["per_fiscal_year"][0]["households_served"],
    )


async def link_facts(app: App, moved: str, joined: str) -> int:
    """How many link facts intake's reports hold between the two households."""
    p, k = tables.report_pseudonym, tables.report_household_link
    async with app.runtime.sessions() as session:
        keys = dict(
            (
                await session.execute(
                    select(p.c.subject_id, p.c.pseudonym).where(
                        p.c.kind == "household", p.c.subject_id.in_([moved, joined])
                    )
                )
            ).all()
        )
        if len(keys) < 2:
            return 0
        return int(
            await session.scalar(
                select(func.count())
                .select_from(k)
                .where(k.c.moved_key == keys[moved], k.c.joined_key == keys[joined])
            )
            or 0
        )


async def applied_by_the_reports(app: App, *event_ids: str) -> bool:
    """Whether this app's report facts' consumer (group ``<group>-reports``) has recorded every
    one of these events in its inbox. Its own group: another intake of the test session (the
    served one of the browser tests) has report facts of its own, and records them too."""
    [group] = [
        c.consumer for c, _ in app.runtime.consumers() if c.consumer.endswith(REPORTS_GROUP_SUFFIX)
    ]
    inbox = app.runtime.tables.inbox
    async with app.runtime.sessions() as session:
        seen = await session.scalar(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.event_id.in_(event_ids), inbox.c.consumer == group)
        )
    return seen == len(set(event_ids))


async def two_households(app: App, day: date) -> tuple[str, Desk, dict, dict, dict]:
    """An event with two residents taken in as two households (as intake does for two members
    of one household who came separately)."""
    _, (event,) = await new_venue_with_events(app, day)
    desk = Desk(app, await token(app.client, "uketsuke"))
    a = await desk.take_in(event, ["income_shortfall"])
    b = await desk.take_in(event, ["food_insecurity"])
    assert a["household_id"] != b["household_id"]
    return event, desk, await token(app.client, "admin"), a, b


async def test_a_household_link_after_the_parcels_counts_the_two_as_one(intake_app: App) -> None:
    app = intake_app
    event, desk, admin, a, b = await two_households(app, date(2026, 12, 1))
    await desk.parcel(a, event, "standard")
    await desk.parcel(b, event, "infant")
    before = await settled(
        app, admin, f"events/{event}", lambda r: r["cases"] == 2 and r["food"]["parcels_total"] == 2
    )
    assert households_served(before) == (2, 2, 2)

    # At the desk B's household joined A's: the parcel B received counts for A's household.
    await desk.link(b, event, moved=b["household_id"], joined=a["household_id"])
    after = await settled(
        app, admin, f"events/{event}", lambda r: r["food"]["households_served"] == 1
    )
    assert households_served(after) == (1, 1, 1)
    assert after["food"]["parcels_total"] == 2
    assert after["food"]["parcels"]["infant"] == 1
    with_households = ("food", "per_event", "per_fiscal_year")
    assert {k: v for k, v in after.items() if k not in with_households} == {
        k: v for k, v in before.items() if k not in with_households
    }  # only the households changed


async def test_a_household_link_before_the_parcels_counts_the_two_as_one(intake_app: App) -> None:
    app = intake_app
    event, desk, admin, a, b = await two_households(app, date(2026, 12, 2))
    link = await desk.link(b, event, moved=b["household_id"], joined=a["household_id"])
    await eventually(lambda: applied_by_the_reports(app, link.event_id))
    assert await link_facts(app, b["household_id"], a["household_id"]) == 1

    # Told after the link, on other partitions: one parcel handed out to the moved household
    # before the link (it names B's household), one to the joined household.
    await desk.parcel(b, event, "standard")
    await desk.parcel(a, event, "no_pork")
    r = await settled(app, admin, f"events/{event}", lambda r: r["food"]["parcels_total"] == 2)
    assert households_served(r) == (1, 1, 1)


async def test_a_household_link_told_twice_changes_nothing(intake_app: App) -> None:
    app = intake_app
    event, desk, admin, a, b = await two_households(app, date(2026, 12, 3))
    await desk.parcel(a, event, "standard")
    await desk.parcel(b, event, "standard")
    link = await desk.link(b, event, moved=b["household_id"], joined=a["household_id"])
    await eventually(lambda: applied_by_the_reports(app, link.event_id))
    # Then, in later batches: the same event again (a redelivery: the inbox has it), and the
    # same link as a new event (a replay from the dead-letter topic: the fact is there).
    await desk.again(b, link)
    replayed = link.model_copy(update={"event_id": str(uuid.uuid4())})
    await desk.again(b, replayed)
    await eventually(lambda: applied_by_the_reports(app, replayed.event_id))

    r = await settled(app, admin, f"events/{event}", lambda r: r["food"]["parcels_total"] == 2)
    assert households_served(r) == (1, 1, 1)
    assert await link_facts(app, b["household_id"], a["household_id"]) == 1
    assert await link_facts(app, a["household_id"], b["household_id"]) == 0


async def test_households_linked_through_others_count_as_one(intake_app: App) -> None:
    """X joined Z, Z joined W, W joined Y (over several events): X's and Y's parcels at this
    event are one household's, though neither link that names them names the other."""
    app = intake_app
    event, desk, admin, x, y = await two_households(app, date(2026, 12, 4))
    z, w = f"hh-z-{uuid.uuid4().hex[:8]}", f"hh-w-{uuid.uuid4().hex[:8]}"
    await desk.parcel(x, event, "standard")
    await desk.parcel(y, event, "standard")
    await settled(app, admin, f"events/{event}", lambda r: r["food"]["parcels_total"] == 2)
    await desk.link(x, "an-earlier-event", moved=x["household_id"], joined=z)
    await desk.link(x, "an-earlier-event", moved=z, joined=w)
    last = await desk.link(y, event, moved=w, joined=y["household_id"])
    await eventually(lambda: applied_by_the_reports(app, last.event_id))
    r = await settled(app, admin, f"events/{event}", lambda r: r["food"]["households_served"] == 1)
    assert households_served(r) == (1, 1, 1)


async def test_forgetting_linked_residents_keeps_their_household_counted_once(
    intake_app: App,
) -> None:
    """Erasure leaves the link facts as they are: they hold two household pseudonyms, never a
    case, resident or household id, and the counts stay."""
    app = intake_app
    event, desk, admin, a, b = await two_households(app, date(2026, 12, 5))
    await desk.parcel(a, event, "standard")
    await desk.parcel(b, event, "standard")
    await desk.link(b, event, moved=b["household_id"], joined=a["household_id"])
    before = await settled(
        app,
        admin,
        f"events/{event}",
        lambda r: (
            r["cases"] == 2
            and r["food"]["parcels_total"] == 2
            and r["food"]["households_served"] == 1
        ),
    )

    async with app.runtime.sessions() as session, session.begin():
        assert await report_facts.forget_resident(session, b["resident_id"], [b["case_id"]]) == 1
        assert await report_facts.forget_resident(session, a["resident_id"], [a["case_id"]]) == 1

    after = await report(app, admin, f"events/{event}")
    assert after == before
    assert households_served(after) == (1, 1, 1)
    ids = {
        a["case_id"], b["case_id"], a["resident_id"], b["resident_id"],
        a["household_id"], b["household_id"],
    }  # fmt: skip
    k = tables.report_household_link
    async with app.runtime.sessions() as session:
        for column in k.columns:
            hits = await session.scalar(select(func.count()).select_from(k).where(column.in_(ids)))
            assert hits == 0, f"{k.name}.{column.name} holds an id"
