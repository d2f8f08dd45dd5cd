"""Deliveries due now go from the planning transaction to the sender of the same process,
already leased, without a claim (ADR 27): sent once, against consent as it is at send time,
and left to their lease when the process dies after the planning commit. A lease the sender
knows it never saw through (a commit or a claim whose answer was lost) is given back and sent
at once, not after the lease (ADR 29)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker

from tsunagu.devstack.proxy import TcpProxy
from tsunagu.notify.service_layer.scheduling import on_event
from tsunagu.shared.contracts.topics import INTAKE_CONTACT, ROUTING_NOTIFY
from tsunagu.shared.db import create_engine

from .conftest import (
    TestClock,
    eventually,
    publish,
    publish_referral,
    resident_key,
    stop_notify,
)
from .events import (
    case_created,
    case_routed,
    new_case,
    referral_created,
    referral_status_changed,
)
from .test_residents import DAY, delivery, status_is
from .test_staff_messages import attempts_of, deliveries_of

pytestmark = pytest.mark.integration

#: The sender's own claim runs only when started or woken (while a claim is under way, its
#: batch's room is taken and a plan falls back to scheduling, which these tests do not want).
RARE_POLLS = 60

#: A short lease (it must outlast every channel timeout and a batch's emails).
SHORT_LEASE = {
    "lease_seconds": 3,
    "smtp_timeout_seconds": 1,
    "sms_timeout_seconds": 1,
    "webhook_timeout_seconds": 1,
    "batch_size": 4,
}


def sent_one(runtime: Any, case_id: str) -> Any:
    """A check for ``eventually``: the case's one delivery, once it is sent."""

    async def check() -> Any:
        [row] = await deliveries_of(runtime, case_id)
        return row if row["status"] == "sent" else None

    return check


def watch(runtime: Any) -> tuple[list[str], list[str]]:
    """The delivery ids the sender was handed by planning, and those it claimed itself."""
    handed: list[str] = []
    claimed: list[str] = []
    sender = runtime.sender
    take, claim = sender.take, sender.claim

    def taking(rows: list[Any], token: str) -> None:
        handed.extend(r["id"] for r in rows)
        take(rows, token)

    async def claiming(**options: Any) -> Any:
        batch = await claim(**options)
        claimed.extend(c.row["id"] for c in batch)
        return batch

    sender.take, sender.claim = taking, claiming
    return handed, claimed


async def test_a_delivery_due_now_is_sent_without_a_claim(start_notify, smtp, producer):
    runtime = await start_notify(smtp_port=smtp.port, poll_seconds=RARE_POLLS)
    handed, claimed = watch(runtime)
    case_id, number = await publish_referral(producer, "welfare_fund")

    async def sent() -> Any:
        rows = await deliveries_of(runtime, case_id)
        return rows[0] if rows and rows[0]["status"] == "sent" else None

    row = await eventually(sent)
    assert row["id"] in handed, "handed to the sender by the planning transaction"
    assert row["id"] not in claimed, "no claim of its own"
    assert (row["attempts"], row["lease_token"]) == (1, None)
    assert [a["status"] for a in await attempts_of(runtime, row["id"])] == ["sent"]
    await asyncio.sleep(0.5)  # a few more sender polls: nothing else goes out
    assert len(smtp.mails(containing=number)) == 1


async def test_a_sender_killed_after_the_planning_commit_leaves_it_to_be_sent_once_after_the_lease(
    start_notify, runtimes, smtp, producer
):
    first = await start_notify(smtp_port=smtp.port, poll_seconds=RARE_POLLS, **SHORT_LEASE)
    # The process dies right after the planning commit: its sender never sends what it was
    # handed (and it is stopped below, before the lease runs out).
    first.sender.take = lambda rows, token: None
    case_id, number = await publish_referral(producer, "welfare_fund")
    [row] = await eventually(lambda: deliveries_of(first, case_id))
    # Inserted already claimed: leased to the planning process for the lease's length.
    assert row["status"] == "sending" and row["lease_token"] is not None
    assert row["next_attempt_at"] - row["created_at"] == timedelta(seconds=3)
    await stop_notify(first, runtimes)
    assert smtp.mails(containing=number) == []

    second = await start_notify(smtp_port=smtp.port, **SHORT_LEASE)

    done = await eventually(sent_one(second, case_id), timeout=30)
    attempts = await attempts_of(second, done["id"])
    assert [(a["status"], a["error"]) for a in attempts] == [
        ("transient_failure", "lease_expired"),
        ("sent", None),
    ]
    assert attempts[-1]["at"] >= row["next_attempt_at"], "not before the lease ran out"
    await asyncio.sleep(0.5)
    assert len(smtp.mails(containing=number)) == 1


async def test_consent_withdrawn_between_the_planning_commit_and_the_send_stops_the_message(
    start_notify, settings, smtp, producer
):
    # The planning transaction leased the resident's acknowledgement to the sender; before
    # the sender got to it, the resident chose "do not contact" (another consumer or replica
    # applied the change). The sender reads consent as it is now, and sends nothing.
    runtime = await start_notify(TestClock(DAY), smtp_port=smtp.port, poll_seconds=RARE_POLLS)
    case_id, number = new_case()
    resident = f"{case_id}@resident.example.jp"
    created = case_created(settings, case_id, number, channels=["email"], email=resident)
    routed = case_routed(case_id, number)
    key = resident_key(routed, case_id, "acknowledgement")
    sender, t = runtime.sender, runtime.tables.case_contact
    take = sender.take
    handed: list[str] = []

    async def withdraw_then_send(rows: list[Any], token: str) -> None:
        if any(r["dedup_key"] == key for r in rows):
            handed.append(key)
            async with runtime.sessions() as session, session.begin():
                await session.execute(
                    update(t).where(t.c.case_id == case_id).values(channels=["none"])
                )
        take(rows, token)

    held: set[asyncio.Task[None]] = set()

    def taking(rows: list[Any], token: str) -> None:
        task = asyncio.get_running_loop().create_task(withdraw_then_send(rows, token))
        held.add(task)

    sender.take = taking
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    await publish(producer, ROUTING_NOTIFY.name, routed, case_id)

    decision = await eventually(status_is(runtime, key, "suppressed"))
    assert handed == [key], "it was handed over, leased, by the planning transaction"
    assert decision["reason"] == "do_not_contact"
    await asyncio.sleep(0.5)
    assert smtp.mails(to=resident) == []
    async with runtime.sessions() as session:
        channels = await session.scalar(select(t.c.channels).where(t.c.case_id == case_id))
    assert channels == ["none"]
    assert (await delivery(runtime, key)) is not None


async def test_a_withdrawal_later_in_the_planning_transaction_takes_back_what_it_leased(
    start_notify, smtp
):
    # Planned outside a consumer's batch, each plan is written at once: the referral's team
    # message is inserted leased to the sender; the withdrawal in the same transaction
    # suppresses it, and it is not handed over. Nothing goes out.
    runtime = await start_notify(smtp_port=smtp.port, poll_seconds=RARE_POLLS)
    handed, _ = watch(runtime)
    await asyncio.sleep(1.0)  # the sender's claims at start are done (a claim holds its room)
    assert runtime.sender.room() == runtime.sender.batch_size
    case_id, number = new_case()
    created = referral_created(case_id, number, "welfare_fund")
    withdrawn = referral_status_changed(case_id, number, "withdrawn", programme="welfare_fund")
    d = runtime.tables.delivery
    async with runtime.sessions() as session, session.begin():
        await on_event(runtime.notify, session, created)
        leased = await session.scalar(select(d.c.status).where(d.c.case_id == case_id))
        assert leased == "sending"
        await on_event(runtime.notify, session, withdrawn)
    [row] = await deliveries_of(runtime, case_id)
    assert (row["status"], row["reason"], row["lease_token"]) == (
        "suppressed",
        "referral_withdrawn",
        None,
    )
    await asyncio.sleep(0.5)
    assert row["id"] not in handed
    assert smtp.mails(containing=number) == []
    assert runtime.sender.room() == runtime.sender.batch_size, "its room given back"


#: Far longer than the tests wait: a delivery left to its lease is not sent while they look.
LONG_LEASE = 300


async def test_a_planning_commit_whose_answer_was_lost_is_sent_at_once_not_after_the_lease(
    start_notify, settings, smtp
):
    # The planning transaction's COMMIT reaches PostgreSQL, which commits; its answer is lost
    # (a hung database, a dropped connection), so the planner sees a failure and its after-
    # commit hand-over never happens. The delivery is committed leased to the sender, which
    # would otherwise not send it until the lease ran out.
    runtime = await start_notify(smtp_port=smtp.port, lease_seconds=LONG_LEASE)
    handed, _ = watch(runtime)
    await asyncio.sleep(1.0)  # the sender's claims at start are done (a claim holds its room)
    url = make_url(settings.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    engine = create_engine(proxy.url(settings.database_url), "notify", pool_size=1)
    case_id, number = new_case()
    try:
        proxy.lose_answer_to(b"COMMIT")
        with pytest.raises(DBAPIError):
            async with async_sessionmaker(engine)() as session, session.begin():
                await on_event(
                    runtime.notify, session, referral_created(case_id, number, "welfare_fund")
                )
    finally:
        await engine.dispose()
        await proxy.cut()
    assert proxy.answers_lost == 1
    [row] = await deliveries_of(runtime, case_id)
    assert row["status"] in ("sending", "sent"), "committed, although the planner saw a failure"

    done = await eventually(sent_one(runtime, case_id), timeout=15)
    assert done["id"] not in handed, "never handed over: its transaction did not say it committed"
    assert [(a["status"], a["error"]) for a in await attempts_of(runtime, done["id"])] == [
        ("sent", None)
    ], "no lease_expired attempt: nothing had been sent under the lease given back"
    assert done["sent_at"] - done["created_at"] < timedelta(seconds=LONG_LEASE / 10)
    await asyncio.sleep(0.5)
    assert len(smtp.mails(containing=number)) == 1


async def test_a_claim_that_fails_after_taking_its_rows_gives_them_back(start_notify, smtp):
    # The claim's statement took the rows (autocommit), then the claim failed before any send
    # (here the connection drops on the claim's next statement). Nothing was sent under its
    # lease, so the rows are given back and claimed again at once, not after the lease.
    runtime = await start_notify(smtp_port=smtp.port, lease_seconds=LONG_LEASE, poll_seconds=0.2)
    sender = runtime.sender
    read_cases = sender._cases_of_residents
    failed: list[int] = []

    async def dropping(conn: Any, rows: Any) -> Any:
        if not failed:
            failed.append(len(rows))
            raise ConnectionResetError("the connection dropped after the claim")
        return await read_cases(conn, rows)

    handoff = runtime.notify.handoff
    assert handoff is not None
    case_id, number = new_case()
    handoff.detach()  # planned without a hand-over: scheduled, for the sender to claim
    sender._cases_of_residents = dropping  # type: ignore[method-assign]
    async with runtime.sessions() as session, session.begin():
        await on_event(runtime.notify, session, referral_created(case_id, number, "welfare_fund"))
    handoff.attach(sender)

    done = await eventually(sent_one(runtime, case_id), timeout=15)
    assert failed == [1], "the first claim took the delivery, then failed"
    assert [(a["status"], a["error"]) for a in await attempts_of(runtime, done["id"])] == [
        ("sent", None)
    ]
    assert done["sent_at"] - done["created_at"] < timedelta(seconds=LONG_LEASE / 10)
    await asyncio.sleep(0.5)
    assert len(smtp.mails(containing=number)) == 1


async def test_a_commit_that_lands_after_a_first_give_back_is_given_back_too(start_notify, smtp):
    # A COMMIT held up on the network lands on the server after the sender's first give-back,
    # which found nothing under its token. The token is kept until its lease would have run
    # out, so the rows are given back when they appear, not left to the lease.
    runtime = await start_notify(smtp_port=smtp.port, lease_seconds=LONG_LEASE, poll_seconds=0.2)
    sender, d = runtime.sender, runtime.tables.delivery
    token = "0b5e55ed-0000-4000-8000-000000000029"
    sender.forgo(token)
    await asyncio.sleep(1.0)  # a few runs: nothing holds the token yet
    handoff = runtime.notify.handoff
    assert handoff is not None
    case_id, number = new_case()
    handoff.detach()  # the late transaction's rows are written here as it left them: leased
    async with runtime.sessions() as session, session.begin():
        await on_event(runtime.notify, session, referral_created(case_id, number, "welfare_fund"))
        await session.execute(
            update(d)
            .where(d.c.case_id == case_id)
            .values(
                status="sending",
                lease_token=token,
                claimed_from="scheduled",
                next_attempt_at=runtime.notify.now() + timedelta(seconds=LONG_LEASE),
            )
        )
    handoff.attach(sender)

    done = await eventually(sent_one(runtime, case_id), timeout=15)
    assert [(a["status"], a["error"]) for a in await attempts_of(runtime, done["id"])] == [
        ("sent", None)
    ]
    await asyncio.sleep(0.5)
    assert len(smtp.mails(containing=number)) == 1
