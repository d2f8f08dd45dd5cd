"""Staff messages over real Kafka, PostgreSQL and SMTP: once, retried, never lost."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.engine.interfaces import CacheStats

from tsunagu.notify.adapters.channels import delivery_token
from tsunagu.notify.bootstrap import NotifyRuntime
from tsunagu.notify.service_layer.scheduling import finish_batch, on_event, prepare_batch
from tsunagu.shared.contracts.topics import NOTIFY_DELIVERY, programme_topic_name

from .conftest import (
    TEAM_DOMAIN,
    api,
    eventually,
    publish,
    publish_referral,
    read_topic,
    stop_notify,
)
from .events import new_case, referral_created, referral_status_changed

pytestmark = pytest.mark.integration


async def deliveries_of(runtime: NotifyRuntime, case_id: str) -> list[dict[str, Any]]:
    d = runtime.tables.delivery
    async with runtime.sessions() as session:
        rows = await session.execute(select(d).where(d.c.case_id == case_id))
        return [dict(r._mapping) for r in rows.all()]


async def attempts_of(runtime: NotifyRuntime, delivery_id: str) -> list[dict[str, Any]]:
    a = runtime.tables.delivery_attempt
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.id)
        )
        return [dict(r._mapping) for r in rows.all()]


async def test_a_referral_sends_one_email_to_the_team_even_when_delivered_twice(
    start_notify, smtp, producer, kafka_bootstrap
):
    runtime = await start_notify(smtp_port=smtp.port)
    case_id, number = new_case()
    topic = programme_topic_name("welfare_fund")
    envelope = referral_created(case_id, number, "welfare_fund", urgent=True)
    for _ in range(2):  # the same event, delivered twice
        await publish(producer, topic, envelope, case_id)
    marker_case, marker_number = new_case()
    await publish(
        producer, topic, referral_created(marker_case, marker_number, "welfare_fund"), marker_case
    )

    team = f"welfare_fund@{TEAM_DOMAIN}"
    await eventually(lambda: _async(smtp.mails(to=team, containing=marker_number)))
    await eventually(lambda: _async(smtp.mails(to=team, containing=number)))
    await asyncio.sleep(1.0)  # a few more sender polls: nothing else arrives
    mails = smtp.mails(containing=number)
    assert len(mails) == 1
    mail = mails[0]
    assert mail.rcpt_tos == [team]
    assert mail.subject.startswith("【至急】")  # urgent, at once, and marked
    assert "【至急】緊急の対応が必要なケースです" in mail.text
    dedup_key = f"{envelope.event_id}:team:welfare_fund:new_referral"
    assert mail.message["Message-ID"] == f"<{delivery_token(dedup_key)}@tsunagu.example>"

    [delivery] = await deliveries_of(runtime, case_id)
    assert delivery["dedup_key"] == dedup_key
    assert delivery["status"] == "sent"
    assert delivery["attempts"] == 1
    [attempt] = await attempts_of(runtime, delivery["id"])
    assert (attempt["channel"], attempt["status"], attempt["error"]) == ("email", "sent", None)

    # The unique dedup key holds on its own too: the plan applied again, past the inbox.
    for _ in range(2):
        async with runtime.sessions() as session, session.begin():
            await on_event(runtime.notify, session, envelope)
    assert len(await deliveries_of(runtime, case_id)) == 1

    # Every attempt is published on notify.delivery.v1, without content or addresses.
    async def published() -> list[Any]:
        records = await read_topic(kafka_bootstrap, NOTIFY_DELIVERY.name)
        return [r for r in records if r.key == case_id.encode()]

    [record] = await eventually(published)
    event = json.loads(record.value)
    assert event["event_type"] == "delivery_attempted"
    assert event["data"]["delivery_id"] == delivery["id"]
    assert event["data"]["status"] == "sent"
    assert event["data"]["channel"] == "email"
    assert "@" not in record.value.decode()


async def test_deliveries_api_shows_status_channel_and_attempts_without_addresses(
    start_notify, smtp, producer
):
    runtime = await start_notify(smtp_port=smtp.port)
    case_id, number = await publish_referral(producer, "elderly_support")
    await eventually(lambda: _async(smtp.mails(containing=number)))

    async with api(runtime) as client:

        async def sent() -> Any:
            response = await client.get("/api/v1/deliveries", params={"case_id": case_id})
            body = response.json()
            return body if body and body[0]["status"] == "sent" else None

        [view] = await eventually(sent)
        assert view["template"] == "new_referral"
        assert view["recipient_kind"] == "team"
        assert view["channels"] == ["email"]
        assert view["attempts"] == 1
        assert view["last_channel"] == "email"
        assert [(a["attempt"], a["channel"], a["status"]) for a in view["attempt_log"]] == [
            (1, "email", "sent")
        ]
        response = await client.get("/api/v1/deliveries", params={"case_id": case_id})
        assert "@" not in response.text
        assert "/api/v1/deliveries" in (await client.get("/openapi.json")).json()["paths"]

    async with api(runtime, token=False) as anonymous:
        response = await anonymous.get("/api/v1/deliveries", params={"case_id": case_id})
        assert response.status_code == 401


async def test_a_refused_address_is_a_permanent_failure_shown_to_staff_who_can_retry(
    start_notify, smtp, producer
):
    smtp.refuse = "550 5.1.1 No such user here"
    runtime = await start_notify(smtp_port=smtp.port)
    case_id, number = new_case()
    topic = programme_topic_name("life_independence")
    await publish(producer, topic, referral_created(case_id, number), case_id)

    async def failed() -> Any:
        rows = await deliveries_of(runtime, case_id)
        return rows[0] if rows and rows[0]["status"] == "permanent_failure" else None

    delivery = await eventually(failed)
    assert delivery["last_error"] == "smtp_550 5.1.1"
    assert delivery["attempts"] == 1  # never retried on its own

    async with api(runtime) as client:
        failures = (await client.get("/api/v1/deliveries/failures")).json()
        assert delivery["id"] in [f["delivery_id"] for f in failures]
        page = await client.get("/failures")
        assert page.status_code == 200
        assert f'action="/failures/{delivery["id"]}/retry"' in page.text
        assert "smtp_550 5.1.1" in page.text and "新しい紹介" in page.text
        overview = await client.get("/")
        assert overview.status_code == 200 and "送信失敗" in overview.text

        smtp.refuse = None  # the address was fixed
        retried = await client.post(f"/api/v1/deliveries/{delivery['id']}/retry")
        assert retried.status_code == 202
    await eventually(lambda: _async(smtp.mails(containing=number)))
    [delivery] = await eventually(lambda: _at_least(lambda: _sent(runtime, case_id), 1))
    assert delivery["attempts"] == 2


async def _sent(runtime: NotifyRuntime, case_id: str) -> list[dict[str, Any]]:
    return [r for r in await deliveries_of(runtime, case_id) if r["status"] == "sent"]


async def test_smtp_down_is_retried_until_it_comes_back_even_across_a_restart(
    start_notify, runtimes, smtp, producer
):
    smtp.stop()  # the relay is down
    runtime = await start_notify(smtp_port=smtp.port)
    case_id, number = await publish_referral(producer, "csw_outreach")

    async def failing_twice() -> Any:
        rows = await deliveries_of(runtime, case_id)
        return rows if rows and rows[0]["attempts"] >= 2 else None

    [delivery] = await eventually(failing_twice)
    assert delivery["status"] in ("transient_failure", "sending")
    assert delivery["last_error"].startswith("smtp_unavailable")

    # Stop notify while it is still retrying: the retry lives in the table, not in memory.
    await stop_notify(runtime, runtimes)
    smtp.start()
    assert smtp.mails(containing=number) == []
    runtime = await start_notify(smtp_port=smtp.port)

    await eventually(lambda: _async(smtp.mails(containing=number)))
    await asyncio.sleep(1.0)
    assert len(smtp.mails(containing=number)) == 1
    [delivery] = await deliveries_of(runtime, case_id)
    assert delivery["status"] == "sent"
    attempts = await attempts_of(runtime, delivery["id"])
    assert [a["status"] for a in attempts[:-1]] == ["transient_failure"] * (len(attempts) - 1)
    assert attempts[-1]["status"] == "sent"
    assert len(attempts) == delivery["attempts"] >= 3
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(attempts[:-1])]
    assert all(gap >= timedelta(seconds=0.2) for gap in gaps)  # backoff, not a busy loop


async def test_a_delivery_left_sending_by_a_crashed_sender_is_sent_after_its_lease(
    start_notify, smtp, producer
):
    # A sender claimed this delivery and died before marking it (its lease expired):
    # the delivery is sent again, and the unknown attempt is on record.
    runtime = await start_notify(smtp_port=smtp.port)
    await runtime.worker.stop()  # hold the sender while the crash is staged
    runtime.background.remove(runtime.worker)
    case_id, number = await publish_referral(producer, "adult_guardianship")
    [delivery] = await eventually(lambda: deliveries_of(runtime, case_id))
    d = runtime.tables.delivery
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(d)
            .where(d.c.id == delivery["id"])
            .values(
                status="sending",
                lease_token="the-crashed-sender",
                next_attempt_at=runtime.clock() - timedelta(seconds=1),
            )
        )

    async def sent() -> Any:
        await runtime.sender.run_once()
        [row] = await deliveries_of(runtime, case_id)
        return row if row["status"] == "sent" else None

    delivery = await eventually(sent)
    assert len(smtp.mails(containing=number)) == 1
    attempts = await attempts_of(runtime, delivery["id"])
    assert [(a["status"], a["error"]) for a in attempts] == [
        ("transient_failure", "lease_expired"),
        ("sent", None),
    ]


async def test_a_batch_whose_mark_fails_is_marked_one_by_one_and_the_rest_is_kept(
    start_notify, smtp, producer
):
    # A batch's sends are marked in one transaction. Here one delivery's row vanished while it
    # was being sent, so that transaction fails: the other is still marked, on its own.
    runtime = await start_notify(smtp_port=smtp.port)
    cases, claimed, attempts = await _sent_by_hand(runtime, producer, 2)
    gone, kept = claimed
    d = runtime.tables.delivery
    async with runtime.sessions() as session, session.begin():
        await session.execute(d.delete().where(d.c.id == gone.row["id"]))

    await runtime.sender.record([a for a in attempts if a is not None])

    [row] = await deliveries_of(runtime, kept.row["case_id"])
    assert row["status"] == "sent"
    assert [a["status"] for a in await attempts_of(runtime, row["id"])] == ["sent"]
    assert await attempts_of(runtime, gone.row["id"]) == []
    for _, number in cases:
        assert len(smtp.mails(containing=number)) == 1


async def test_a_batch_is_marked_at_once_and_a_lease_taken_over_is_left_to_its_new_holder(
    start_notify, smtp, producer
):
    # Three sends marked together (one update for all of them); one delivery's lease was
    # taken over by another sender meanwhile: its row stays the new holder's, yet the attempt
    # that happened is recorded and published like the others.
    runtime = await start_notify(smtp_port=smtp.port)
    _, claimed, attempts = await _sent_by_hand(runtime, producer, 3)
    taken, *kept = claimed
    d = runtime.tables.delivery
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            d.update().where(d.c.id == taken.row["id"]).values(lease_token="another-sender")
        )

    await runtime.sender.record([a for a in attempts if a is not None])

    for claim in kept:
        [row] = await deliveries_of(runtime, claim.row["case_id"])
        assert (row["status"], row["attempts"], row["lease_token"]) == ("sent", 1, None)
        assert row["sent_at"] is not None and row["next_attempt_at"] is None
        assert [a["status"] for a in await attempts_of(runtime, row["id"])] == ["sent"]
    [row] = await deliveries_of(runtime, taken.row["case_id"])
    assert (row["status"], row["attempts"], row["lease_token"]) == ("sending", 0, "another-sender")
    assert [a["status"] for a in await attempts_of(runtime, row["id"])] == ["sent"]


async def test_a_batchs_plans_are_written_together_and_a_withdrawal_in_it_cancels_them(
    start_notify, smtp
):
    # In a consumer's batch the plans are kept and written together at its end (ADR 22); a
    # withdrawal later in the same batch writes them first, so it cancels what was planned.
    runtime = await start_notify(smtp_port=smtp.port)
    await runtime.worker.stop()  # nothing is sent meanwhile
    runtime.background.remove(runtime.worker)
    (case_id, number), (other_id, other_number) = new_case(), new_case()
    created = referral_created(case_id, number, "welfare_fund")
    other = referral_created(other_id, other_number, "welfare_fund")
    withdrawn = referral_status_changed(case_id, number, "withdrawn", programme="welfare_fund")
    d = runtime.tables.delivery
    notify = runtime.notify
    # Every statement comes from SQLAlchemy's compiled cache: the multi-row inserts of the
    # programmes and deliveries too (``insert().values([...])`` was compiled at every call).
    uncached: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany) -> None:
        if context.cache_hit is CacheStats.NO_CACHE_KEY:
            uncached.append(statement)

    event.listen(runtime.engine.sync_engine, "after_cursor_execute", watch)
    try:
        async with runtime.sessions() as session, session.begin():
            await prepare_batch(notify, session, [created, other, withdrawn])
            await on_event(notify, session, created)
            await on_event(notify, session, other)
            written = select(d.c.case_id).where(d.c.case_id.in_([case_id, other_id]))
            assert (await session.scalars(written)).all() == []  # kept, not written yet
            await on_event(notify, session, withdrawn)
            assert sorted(await session.scalars(written)) == sorted([case_id, other_id])
            await finish_batch(session)
    finally:
        event.remove(runtime.engine.sync_engine, "after_cursor_execute", watch)
    assert uncached == []
    [cancelled] = await deliveries_of(runtime, case_id)
    assert (cancelled["status"], cancelled["reason"]) == ("suppressed", "referral_withdrawn")
    [kept] = await deliveries_of(runtime, other_id)
    assert (kept["status"], kept["recipient_ref"]) == ("scheduled", "welfare_fund")


async def test_unprocessable_events_go_to_the_dlq_and_the_partition_keeps_flowing(
    start_notify, smtp, producer, kafka_bootstrap, consumer_name
):
    await start_notify(smtp_port=smtp.port)
    topic = programme_topic_name("disability_support")
    case_id, number = new_case()
    bad = referral_created(case_id, number, "disability_support").model_copy(
        update={"data": {"case_id": case_id, "programme": "flying"}}
    )
    await publish(producer, topic, b"this is not an envelope", case_id)
    await publish(producer, topic, bad, case_id)
    # The same key: the same partition, behind the two poison messages.
    await publish(producer, topic, referral_created(case_id, number, "disability_support"), case_id)

    await eventually(lambda: _async(smtp.mails(containing=number)))

    async def dead_lettered() -> list[Any]:
        records = await read_topic(kafka_bootstrap, topic + ".dlq")
        return [
            r
            for r in records
            if r.key == case_id.encode()
            and dict(r.headers).get("dlq-consumer") == consumer_name.encode()
        ]

    records = await eventually(lambda: _at_least(dead_lettered, 2))
    errors = sorted(dict(r.headers)["dlq-error"].decode() for r in records)
    assert errors[0].startswith("invalid referral_created data")
    assert errors[1].startswith("unreadable envelope")


async def _async(value: Any) -> Any:
    return value


async def _at_least(fetch: Any, count: int) -> Any:
    values = await fetch()
    return values if len(values) >= count else None


async def test_senders_claiming_at_once_take_each_due_delivery_once_most_urgent_first(
    start_notify, smtp, producer
):
    # The claim is one statement (locked with SKIP LOCKED, leased, committed at once): two
    # senders claiming at the same moment split the due deliveries, never share one, and a
    # batch lists the urgent ones first.
    runtime = await start_notify(smtp_port=smtp.port)
    await runtime.worker.stop()  # we drive the senders
    runtime.background.remove(runtime.worker)
    cases = [(new_case(), i % 3 == 0) for i in range(12)]
    for (case_id, number), urgent in cases:
        await publish(
            producer,
            programme_topic_name("welfare_fund"),
            referral_created(case_id, number, "welfare_fund", urgent=urgent),
            case_id,
        )
    for (case_id, _), _ in cases:
        await eventually(lambda case_id=case_id: deliveries_of(runtime, case_id))
    first, second = runtime.sender, dataclasses.replace(runtime.sender, batch_size=5)
    taken: list[list[Any]] = []
    while True:
        batches = await asyncio.gather(first.claim(), second.claim())
        if not any(batches):
            break
        taken += [b for b in batches if b]
    ours = {case_id for (case_id, _), _ in cases}
    ids = [c.row["id"] for batch in taken for c in batch if c.row["case_id"] in ours]
    assert len(ids) == len(set(ids)) == 12, "each due delivery claimed once"
    d = runtime.tables.delivery
    async with runtime.sessions() as session:
        rows = (await session.execute(select(d.c.status).where(d.c.case_id.in_(ours)))).all()
    assert [r.status for r in rows] == ["sending"] * 12
    assert len({c.token for batch in taken for c in batch}) == len(taken), "a lease per claim"
    for batch in taken:
        urgency = [c.row["urgent"] for c in batch]
        assert urgency == sorted(urgency, reverse=True), "urgent first"


async def _sent_by_hand(runtime: Any, producer: Any, count: int) -> tuple[Any, Any, Any]:
    """``count`` team messages planned, then claimed and sent by this test (the sender's own
    loop stopped), not yet marked: the cases, the claims and the attempts."""
    await runtime.worker.stop()  # we drive the sender
    runtime.background.remove(runtime.worker)
    cases = [new_case() for _ in range(count)]
    for case_id, number in cases:
        await publish(
            producer,
            programme_topic_name("welfare_fund"),
            referral_created(case_id, number, "welfare_fund"),
            case_id,
        )
    for case_id, _ in cases:
        await eventually(lambda case_id=case_id: deliveries_of(runtime, case_id))
    # The test database is shared: a delivery another test left due may be claimed too; only
    # this test's own are sent here.
    ours = {case_id for case_id, _ in cases}
    claimed = [c for c in await runtime.sender.claim() if c.row["case_id"] in ours]
    assert len(claimed) == count
    attempts = [await runtime.sender.deliver(c) for c in claimed]
    assert all(a is not None and a.result.ok for a in attempts)
    return cases, claimed, attempts
