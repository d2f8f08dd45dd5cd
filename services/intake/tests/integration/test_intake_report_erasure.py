"""An erasure racing a batch of report facts, on real PostgreSQL: no id comes back (ADR 26).

The report facts' consumer looks the tombstones of erased cases up at the start of a batch. A
batch that began before an erasure committed, and whose writes then waited on the erasure's
locks, wrote afterwards: its upserts, keyed by the case, referral and handout ids that the
erasure had just taken off the rows, found no row and inserted the ids again (and a new
pseudonym for the resident). Here each side is held open in one connection while the other
runs in another, and let go only once PostgreSQL shows the other waiting on it: an erasure,
then a batch of the case's events applied through the report consumer's own path; a batch,
then an erasure.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from intake_helpers import App, eventually, publish, token
from sqlalchemy import func, select, text
from test_intake_reports import T0, Desk, applied_by_the_reports, new_venue_with_events, report

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.entrypoints.consumers import register, register_reports
from tsunagu.intake.service_layer import erasure
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import FOOD, INTAKE_CASE, REPORTS_GROUP_SUFFIX, ROUTING_CASE
from tsunagu.shared.messaging import IdempotentConsumer, Origin
from tsunagu.shared.runtime import ServiceRuntime

pytestmark = pytest.mark.integration

REPORT_TABLES = (
    tables.report_case,
    tables.report_referral,
    tables.report_parcel,
    tables.report_pseudonym,
    tables.report_household_link,
)


@pytest.fixture
async def behind(intake_app: App) -> AsyncIterator[IdempotentConsumer]:
    """The report consumer of another intake process, in a group of its own that has applied
    nothing yet (so every event it is given is new to it); never started: the test hands it
    its batches."""
    replica = ServiceRuntime(intake_app.settings, tables)
    group = f"erasure-{uuid.uuid4().hex[:8]}{REPORTS_GROUP_SUFFIX}"
    try:
        yield register_reports(replica, group)
    finally:
        await replica.engine.dispose()


def origins(batch: list[tuple[str, Envelope]]) -> list[Origin]:
    """The records of one fetched batch: (topic, event), keyed by the event's case."""
    return [
        Origin(
            topic=topic,
            partition=0,
            offset=offset,
            key=str(envelope.data["case_id"]).encode(),
            value=envelope.to_bytes(),
            headers=(),
        )
        for offset, (topic, envelope) in enumerate(batch)
    ]


class Case:
    """A resident's case taken in through the API, and routing's and food's events about it."""

    def __init__(self, taken: dict[str, str], event_id: str) -> None:
        self.case_id = taken["case_id"]
        self.resident_id = taken["resident_id"]
        self.household_id = taken["household_id"]
        self.referrals = [str(uuid.uuid4()), str(uuid.uuid4())]
        self.handout_id = str(uuid.uuid4())
        base = {"case_id": self.case_id, "case_number": taken["case_number"]}
        routed = {
            **base,
            "event_id": event_id,
            "rule_version": "test",
            "lead": "life_independence",
            "compound": True,
            "urgent": False,
            "food_parcel_eligible": True,
            "referrals": [
                {"referral_id": self.referrals[0], "programme": "life_independence",
                 "role": "lead", "status": "pending", "reasons": []},
                {"referral_id": self.referrals[1], "programme": "welfare_fund",
                 "role": "member", "status": "pending", "reasons": []},
            ],
        }  # fmt: skip
        accepted = {
            **base,
            "referral_id": self.referrals[0],
            "programme": "life_independence",
            "status": "accepted",
            "previous_status": "pending",
            "by": "life_independence",
        }
        handout = {
            "handout_id": self.handout_id,
            "case_id": self.case_id,
            "household_id": self.household_id,
            "event_id": event_id,
            "parcel_type": "standard",
            "handed_out_by": "food",
            "handed_out_at": T0.isoformat(),
        }
        self.routing = [
            event("case_routed", "routing", routed, T0),
            event("referral_status_changed", "routing", accepted, T0 + timedelta(hours=2)),
        ]
        self.food = [event("parcel_handed_out", "food_distribution", handout, T0)]

    @property
    def published(self) -> list[tuple[str, Envelope]]:
        """Routing's and food's events, with the topics they are on."""
        return [(ROUTING_CASE.name, e) for e in self.routing] + [(FOOD.name, e) for e in self.food]

    @property
    def ids(self) -> set[str]:
        return {self.case_id, self.resident_id, self.handout_id, *self.referrals}


def event(event_type: str, producer: str, data: dict[str, Any], at: datetime) -> Envelope:
    return Envelope(event_type=event_type, producer=producer, data=data, occurred_at=at)


async def case_created(app: App, case_id: str) -> Envelope:
    """Intake's own ``case_created`` of the case, as its outbox holds it."""
    o = tables.outbox
    async with app.runtime.sessions() as session:
        payload = await session.scalar(
            select(o.c.payload).where(
                o.c.aggregateid == case_id,
                o.c.type == "case_created",
                o.c.topic == INTAKE_CASE.name,
            )
        )
    return Envelope.model_validate(payload)


async def backend_pid(session: Any) -> int:
    return int(await session.scalar(text("SELECT pg_backend_pid()")))


async def waits_on(app: App, pid: int, also: str = "^$") -> bool:
    """Whether a statement of the report facts (on a report table, or the cases' report locks)
    waits for a lock that ``pid`` holds: not, say, intake's read model on the case's rows;
    or a statement matching the regular expression ``also``."""
    async with app.runtime.sessions() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
                " AND (query LIKE '%report\\_%' OR query LIKE '%pg\\_advisory\\_xact\\_lock%'"
                " OR query ~ :also)"
            ),
            {"pid": pid, "also": also},
        )
    return bool(waiting)


async def ids_left(app: App, ids: set[str]) -> list[str]:
    """The report columns that still hold one of ``ids``."""
    found = []
    async with app.runtime.sessions() as session:
        for table in REPORT_TABLES:
            for column in table.columns:
                hits = await session.scalar(
                    select(func.count())
                    .select_from(table)
                    .where(func.cast(column, tables.case.c.case_id.type).in_(ids))
                )
                if hits:
                    found.append(f"{table.name}.{column.name}")
    return found


async def resident_pseudonyms(app: App, resident_id: str) -> int:
    p = tables.report_pseudonym
    async with app.runtime.sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(p)
                .where(p.c.kind == "resident", p.c.subject_id == resident_id)
            )
            or 0
        )


async def erase(session: Any, app: App, resident_id: str) -> None:
    await erasure.erase_resident(
        session,
        app.runtime.ports,
        resident_id,
        erased_by="privacy",
        basis="request",
        reason="本人の消去請求",
    )


async def test_a_batch_that_waited_on_an_erasure_brings_no_id_back(
    intake_app: App, behind: IdempotentConsumer
) -> None:
    """The erasure first: a batch of the case's events that began before the erasure committed
    waits for it, then finds the case erased and writes nothing of it."""
    app = intake_app
    _, (event_id,) = await new_venue_with_events(app, date(2026, 10, 5))
    desk = Desk(app, await token(app.client, "uketsuke"))
    admin = await token(app.client, "admin")
    case = Case(await desk.take_in(event_id, ["debt_arrears"]), event_id)
    created = await case_created(app, case.case_id)
    for topic, envelope in case.published:
        await publish(app.settings.kafka_bootstrap, topic, case.case_id, envelope)
    applied = [created, *case.routing, *case.food]
    await eventually(lambda: applied_by_the_reports(app, *(e.event_id for e in applied)))
    before = await report(app, admin, f"events/{event_id}")
    assert before["cases"] == 1 and before["food"]["parcels_total"] == 1
    assert sum(before["referrals"]["by_programme"]["welfare_fund"].values()) == 1

    # Another intake's report consumer, behind, fetches every event of the case in one batch.
    batch = origins([(INTAKE_CASE.name, created), *case.published])
    async with app.runtime.sessions() as erasing, erasing.begin():
        pid = await backend_pid(erasing)
        await erase(erasing, app, case.resident_id)
        applying = asyncio.create_task(behind.handle_batch(batch))
        # The batch began (its tombstone lookup found none: the erasure is not committed) and
        # now waits on a lock the erasure holds.
        await eventually(lambda: waits_on(app, pid))
        assert not applying.done()
    done = await asyncio.wait_for(applying, timeout=30)

    assert done.fault is None and len(done.outcomes) == len(batch), done
    left = await ids_left(app, case.ids)
    assert left == [], f"ids of the erased case are back in {left}"
    assert await resident_pseudonyms(app, case.resident_id) == 0
    after = await report(app, admin, f"events/{event_id}")
    changed = {k: (before[k], after.get(k)) for k in before if after.get(k) != before[k]}
    assert after == before, f"changed by the batch (before, after): {changed}"
    # The batch saw the tombstones once it had the locks: recorded, not applied.
    assert done.outcomes == ["ignored"] * len(batch)


async def test_an_erasure_that_waited_on_a_batch_unlinks_what_it_wrote(
    intake_app: App, behind: IdempotentConsumer
) -> None:
    """The batch first: it writes routing's and food's facts of a case whose ``case_created``
    the reports have not read yet (so no pseudonym links them), and holds its transaction open;
    an erasure of the resident waits for it, then unlinks those rows by their case id."""
    app = intake_app
    _, (event_id,) = await new_venue_with_events(app, date(2026, 10, 6))
    desk = Desk(app, await token(app.client, "uketsuke"))
    admin = await token(app.client, "admin")

    written, release = asyncio.Event(), asyncio.Event()
    batch_pid = 0
    finish = behind.finish
    assert finish is not None

    async def finish_and_hold(session: Any) -> None:
        """The batch's own ``finish``; then the batch holds its transaction until released."""
        nonlocal batch_pid
        await finish(session)
        batch_pid = await backend_pid(session)
        written.set()
        await release.wait()

    behind.finish = finish_and_hold
    assert app.runtime.relay is not None
    async with app.runtime.sessions() as relay_held, relay_held.begin():
        # Intake's relay publishes nothing while its lock is held elsewhere (as by another
        # replica's relay): the case's case_created waits in the outbox, unread by the reports.
        await relay_held.execute(select(func.pg_advisory_xact_lock(app.runtime.relay._lock_key)))
        case = Case(await desk.take_in(event_id, ["debt_arrears"]), event_id)
        applying = asyncio.create_task(behind.handle_batch(origins(case.published)))
        try:
            await asyncio.wait_for(written.wait(), timeout=30)

            async def erased() -> None:
                async with app.runtime.sessions() as erasing, erasing.begin():
                    await erase(erasing, app, case.resident_id)

            erasing = asyncio.create_task(erased())
            # Until the erasure waits on the batch (or, should it not wait, is done).
            await eventually(lambda: settled_or_waiting(erasing, app, batch_pid))
            waited = not erasing.done()
        finally:
            release.set()
        done = await asyncio.wait_for(applying, timeout=30)
        await asyncio.wait_for(erasing, timeout=30)
    assert done.fault is None and done.outcomes == ["applied"] * len(case.published), done

    # The case_created read after the erasure is recorded and not applied (its tombstone).
    created = await case_created(app, case.case_id)
    await eventually(lambda: applied_by_the_reports(app, created.event_id), timeout=60)
    left = await ids_left(app, case.ids)
    assert left == [], f"ids of the erased case are left in {left}"
    assert waited, "the erasure did not wait for the batch that held the case's facts"
    assert await resident_pseudonyms(app, case.resident_id) == 0
    after = await report(app, admin, f"events/{event_id}")
    # The batch's facts still count (the parcel); the case itself was never told to the reports.
    assert (after["cases"], after["food"]["parcels_total"]) == (0, 1)


async def settled_or_waiting(task: asyncio.Task[None], app: App, pid: int) -> bool:
    return task.done() or await waits_on(app, pid)


async def test_a_read_model_batch_that_waited_on_an_erasure_writes_no_words_back(
    intake_app: App,
) -> None:
    """The erasure blanks staff's words on the case's referrals. A batch of routing's events
    (here a decline whose reason came in plain words, as version 1 sent it) that began before
    the erasure committed waits for it, then finds the case erased and writes nothing."""
    app = intake_app
    _, (event_id,) = await new_venue_with_events(app, date(2026, 10, 7))
    desk = Desk(app, await token(app.client, "uketsuke"))
    case = Case(await desk.take_in(event_id, ["debt_arrears"]), event_id)
    routed = case.routing[0]
    await publish(app.settings.kafka_bootstrap, ROUTING_CASE.name, case.case_id, routed)
    f = tables.referral

    async def routed_in_the_read_model() -> bool:
        async with app.runtime.sessions() as session:
            found = await session.scalar(
                select(func.count()).select_from(f).where(f.c.case_id == case.case_id)
            )
        return found == 2

    await eventually(routed_in_the_read_model)
    # And in the report facts: nothing of intake's own consumers is left to wait on the erasure.
    await eventually(lambda: applied_by_the_reports(app, routed.event_id))
    declined = event(
        "referral_status_changed",
        "routing",
        {**case.routing[1].data, "status": "declined", "reason": "家族に知られたくない事情"},
        T0 + timedelta(hours=3),
    )
    replica = ServiceRuntime(app.settings, tables)
    try:
        register(replica, consumer=f"erasure-{uuid.uuid4().hex[:8]}")
        [behind] = [c for c, topics in replica.consumers() if topics == [ROUTING_CASE.name]]
        async with app.runtime.sessions() as erasing, erasing.begin():
            pid = await backend_pid(erasing)
            await erase(erasing, app, case.resident_id)
            applying = asyncio.create_task(
                behind.handle_batch(origins([(ROUTING_CASE.name, declined)]))
            )
            # It waits on the erasure: for the cases' locks, or (without them) for the rows.
            await eventually(lambda: waits_on(app, pid, also=r"intake\.referral\M"))
            assert not applying.done()
        done = await asyncio.wait_for(applying, timeout=30)
    finally:
        await replica.engine.dispose()

    assert done.fault is None and done.outcomes == ["ignored"], done
    async with app.runtime.sessions() as session:
        words = (
            await session.execute(
                select(f.c.status, f.c.last_reason).where(f.c.referral_id == case.referrals[0])
            )
        ).one()
    assert words.last_reason is None and words.status != "declined", words
