"""One case's transactions run one after another (the case row's lock), so the events they
write follow commit order: the deadline scanner and the consumers never interleave on a case."""

from __future__ import annotations

import asyncio

import pytest
from routing_testkit import FakeClock, Tap, case_created, publish, referral_response, referrals_of
from sqlalchemy import select

from tsunagu.routing.service_layer.handlers import escalate_overdue, on_referral_response

pytestmark = pytest.mark.integration


async def test_the_scanner_skips_a_case_another_transaction_holds_then_escalates_it(
    start_runtime, producer, tap: Tap
) -> None:
    clock = FakeClock()
    runtime = await start_runtime(clock, scan_interval_seconds=3600)  # we scan by hand
    case = case_created(["housing", "isolation"], eviction_within_7_days=True)
    case_id = case.data["case_id"]
    await publish(producer, case)
    await tap.wait_for(case_id, 2, event_type="referral_created")
    clock.advance(hours=1, minutes=1)
    d = runtime.tables.decision

    async with runtime.sessions() as holder, holder.begin():
        # A consumer's transaction on this case, not committed yet.
        await holder.execute(select(d.c.case_id).where(d.c.case_id == case_id).with_for_update())
        # The scan returns at once (it does not wait for the lock) and leaves this case alone.
        # Counts are not compared: other tests' overdue cases share the database.
        await asyncio.wait_for(escalate_overdue(runtime.routing, runtime.sessions), timeout=30)
        assert {r["status"] for r in await referrals_of(runtime, case_id)} == {"pending"}
    await asyncio.wait_for(escalate_overdue(runtime.routing, runtime.sessions), timeout=30)
    assert {r["status"] for r in await referrals_of(runtime, case_id)} == {"escalated"}


async def test_a_response_waits_for_the_case_and_its_events_follow_commit_order(
    start_runtime, producer, tap: Tap
) -> None:
    clock = FakeClock()
    runtime = await start_runtime(clock, scan_interval_seconds=3600)
    await runtime.relay.stop()  # outbox rows stay where we can read their order
    case = case_created(["housing", "isolation"], eviction_within_7_days=True)
    case_id = case.data["case_id"]
    await publish(producer, case)
    o = runtime.tables.outbox

    async def referrals() -> list:
        rows = await referrals_of(runtime, case_id)
        return rows if len(rows) == 2 else []

    for _ in range(200):
        if rows := await referrals():
            break
        await asyncio.sleep(0.1)
    first, second = rows
    d = runtime.tables.decision

    # Transaction A holds the case (as the scanner does) and writes an event late; B, a
    # programme accepting the other referral, starts meanwhile and must wait for A's commit.
    accept = referral_response(second, "accept")
    a_locked, b_done = asyncio.Event(), asyncio.Event()

    async def transaction_a() -> int:
        async with runtime.sessions() as session, session.begin():
            await session.execute(
                select(d.c.case_id).where(d.c.case_id == case_id).with_for_update()
            )
            a_locked.set()
            await asyncio.sleep(1.0)
            assert not b_done.is_set(), "B waited for the case"
            envelope = runtime.outbox.envelope("probe_a_event", {"case_id": case_id})
            await runtime.outbox.add(session, topic="routing.case.v1", aggregatetype="case",
                                     aggregateid=case_id, envelope=envelope)  # fmt: skip
            await runtime.outbox.flush(session)  # written now, not at commit, to read its seq
            return await _seq(session, o, envelope.event_id)

    async def transaction_b() -> int:
        await a_locked.wait()
        async with runtime.sessions() as session, session.begin():
            await on_referral_response(runtime.routing, session, accept)
            b_done.set()
        async with runtime.sessions() as session:
            seqs = (
                await session.execute(
                    select(o.c.seq).where(o.c.aggregateid == case_id).order_by(o.c.seq.desc())
                )
            ).scalars()
            return int(next(iter(seqs)))

    seq_a, seq_b = await asyncio.gather(transaction_a(), transaction_b())
    assert seq_a < seq_b, "the later commit's events come later"
    assert first["referral_id"] != second["referral_id"]


async def _seq(session, o, event_id: str) -> int:
    return int(await session.scalar(select(o.c.seq).where(o.c.id == event_id)))
