"""Letters and the call list are opened with the residents' keys, asked of intake with no
database transaction open: the rows are read in a short transaction, the keys fetched and the
values opened with none, then the view is audited in a transaction of its own, and shown only
once that entry is written. A slow intake holds no pooled connection; an intake that is down
is a 503 to try again; an erased resident shows nothing (a real HTTP server plays intake's key
endpoint; the rows are written as the sender leaves them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, select, text

from tsunagu.notify.bootstrap import NotifyRuntime, build_app, build_runtime
from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.shared import testing
from tsunagu.shared.auth import Principal, issue_token
from tsunagu.shared.contracts.topics import INTAKE_CONTACT, ROUTING_NOTIFY
from tsunagu.shared.crypto import LocalKeys
from tsunagu.shared.internal import caller_headers
from tsunagu.shared.settings import Settings

from .conftest import TestClock, eventually, notify_config, publish, resident_key
from .events import case_created, new_case, referral_status_changed

pytestmark = pytest.mark.integration

LETTER = "<p>埼玉県川口市青木2-2-2</p><p>山田 花子 様</p>"
#: A weekday morning in Tokyo: a resident's message is due at once.
DAY = datetime(2025, 6, 3, 10, 0, tzinfo=TOKYO)


@pytest.fixture
async def runtime(
    settings, key_server: testing.IntakeKeyEndpoint, consumer_name: str
) -> AsyncIterator[NotifyRuntime]:
    """Notify asking ``key_server`` for keys; not started (no consumers, no sender): the
    pages are what these tests look at. The rows a test wrote are deleted afterwards: their
    keys go with ``key_server``, and the call list of a later test must not meet them."""
    built = build_runtime(
        settings.model_copy(update={"internal_urls": {"intake": key_server.url}}),
        config=notify_config(consumer_name),
    )
    yield built
    t = built.tables
    async with built.sessions() as session, session.begin():
        for table in (t.phone_call, t.letter, t.delivery, t.case_contact):
            await session.execute(delete(table).where(table.c.case_id.like("%-keys-test")))
    await built.keys.stop()
    await built.engine.dispose()


def a_case() -> tuple[str, str]:
    """A case id (marked as these tests', for the clean-up) and its number."""
    case_id, number = new_case()
    return f"{case_id}-keys-test", number


def staff(runtime: NotifyRuntime, username: str = "sato") -> httpx.AsyncClient:
    principal = Principal(username=username, roles=frozenset({"intake"}))
    token = issue_token(principal, runtime.settings.signing_key(), 3600)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(runtime.settings, runtime)),
        base_url="http://notify.test",
        headers={"Authorization": f"Bearer {token}"},
    )


async def sent_by_letter_and_phone(
    runtime: NotifyRuntime, keys: LocalKeys, case_id: str, resident_id: str
) -> tuple[str, str]:
    """A resident's message sent as a letter and a call, as the sender records them: the
    letter's HTML and the call's entry sealed with the resident's own contact key. Returns
    the letter's and the call's ids."""
    t = runtime.tables
    now = datetime.now(UTC)
    ids = {kind: str(uuid.uuid4()) for kind in ("letter", "phone", "letter_id", "call_id")}
    async with runtime.sessions() as session, session.begin():
        for channel in ("letter", "phone"):
            await session.execute(
                insert(t.delivery).values(
                    id=ids[channel], dedup_key=f"{case_id}:{channel}", source_event_id=case_id,
                    recipient_kind="resident", recipient_ref=case_id,
                    template="programme_accepted", channels=[channel], language="ja",
                    case_id=case_id, variables={}, status="sent", attempts=1,
                    last_channel=channel, not_before=now, sent_at=now, created_at=now,
                    updated_at=now,
                )
            )  # fmt: skip
        await session.execute(
            insert(t.letter).values(
                id=ids["letter_id"], delivery_id=ids["letter"], case_id=case_id,
                template="programme_accepted", language="ja", created_at=now,
                document_sealed=keys.seal(resident_id, "contact", {"html": LETTER}),
            )
        )  # fmt: skip
        entry = {"phone": "0482222222", "name": "山田 花子", "script": "ご本人であることを確認"}
        await session.execute(
            insert(t.phone_call).values(
                id=ids["call_id"], delivery_id=ids["phone"], case_id=case_id,
                template="programme_accepted", language="ja", preferred_time="any",
                interpreter_needed=False, created_at=now,
                entry_sealed=keys.seal(resident_id, "contact", entry),
            )
        )  # fmt: skip
    return ids["letter_id"], ids["call_id"]


async def audited(runtime: NotifyRuntime, action: str, case_id: str) -> list[dict[str, Any]]:
    """The audit entries of ``action`` naming ``case_id`` among the cases shown."""
    async with runtime.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT actor, detail FROM notify.audit_log"
                " WHERE action = :action AND detail->'case_ids' ? :case_id ORDER BY audit_id"
            ),
            {"action": action, "case_id": case_id},
        )
    return [dict(r._mapping) for r in rows]


async def while_intake_is_slow(
    runtime: NotifyRuntime,
    key_server: testing.IntakeKeyEndpoint,
    path: str,
    **request: Any,
) -> tuple[httpx.Response, int, list[str]]:
    """Ask for ``path`` while intake holds its answer: the pool's checked-out connections and
    the service's transactions left idle while the key request is in flight, and the answer."""
    key_server.hold()
    async with staff(runtime) as client:
        asked = asyncio.create_task(client.get(path, **request))
        try:
            await key_server.in_flight()
            await asyncio.sleep(0.5)  # idle in a transaction this long: held for the fetch
            checked_out = runtime.engine.pool.checkedout()
            idle = await testing.idle_in_transaction(runtime.engine, "notify")
        finally:
            key_server.release()
        return await asyncio.wait_for(asked, timeout=10), checked_out, idle


async def test_a_letter_is_opened_with_no_transaction_held_while_intake_answers(
    runtime, key_server
):
    case_id, _ = a_case()
    letter_id, _ = await sent_by_letter_and_phone(runtime, key_server.keys, case_id, f"r-{case_id}")

    page, checked_out, idle = await while_intake_is_slow(
        runtime, key_server, f"/letters/{letter_id}"
    )

    assert idle == [] and checked_out == 0, (idle, checked_out)
    assert page.status_code == 200, page.text
    assert "山田 花子 様" in page.text and page.headers["cache-control"] == "no-store"
    assert await audited(runtime, "notify.letter_view", case_id) == [
        {"actor": "sato", "detail": {"case_ids": [case_id], "letter_id": letter_id}}
    ]


async def test_the_call_list_is_opened_with_no_transaction_held_while_intake_answers(
    runtime, key_server
):
    case_id, _ = a_case()
    _, call_id = await sent_by_letter_and_phone(runtime, key_server.keys, case_id, f"r-{case_id}")

    page, checked_out, idle = await while_intake_is_slow(runtime, key_server, "/calls")

    assert idle == [] and checked_out == 0, (idle, checked_out)
    assert page.status_code == 200, page.text
    assert call_id in page.text and "0482222222" in page.text
    [seen] = await audited(runtime, "notify.calls_view", case_id)
    assert seen["actor"] == "sato"


async def test_a_disclosure_holds_no_transaction_while_intake_answers(runtime, key_server):
    case_id, number = a_case()
    resident_id = f"r-{case_id}"
    contact = {"name": "山田 花子", "phone": "0482222222"}
    now = datetime.now(UTC)
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            insert(runtime.tables.case_contact).values(
                case_id=case_id, case_number=number, channels=["phone"], contact_time="any",
                language="ja", sharing_basis="consent", created_at=now, updated_at=now,
                contact_sealed=key_server.keys.seal(resident_id, "contact", contact),
            )
        )  # fmt: skip
    intake_caller = caller_headers(Settings(service="intake", env="test"))

    disclosed, checked_out, idle = await while_intake_is_slow(
        runtime,
        key_server,
        "/internal/v1/disclosure",
        params={"resident_id": resident_id, "case_id": [case_id]},
        headers=intake_caller,
    )

    assert idle == [] and checked_out == 0, (idle, checked_out)
    assert disclosed.status_code == 200, disclosed.text
    [held] = disclosed.json()["contacts"]
    assert held["contact"] == contact and "contact_sealed" not in held


async def test_intake_down_the_letter_is_a_503_to_try_again_and_nothing_is_audited(
    runtime, key_server
):
    case_id, _ = a_case()
    letter_id, _ = await sent_by_letter_and_phone(runtime, key_server.keys, case_id, f"r-{case_id}")
    key_server.up = False
    async with staff(runtime) as client:
        letter = await client.get(f"/letters/{letter_id}")
        calls = await client.get("/calls")
    for answer in (letter, calls):
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"]
        assert answer.json()["code"] == "key_unavailable"
        assert "しばらくしてから" in answer.json()["message"]
    assert "山田" not in letter.text
    assert await audited(runtime, "notify.letter_view", case_id) == []
    assert await audited(runtime, "notify.calls_view", case_id) == []


async def test_an_erased_residents_letter_and_call_are_gone(runtime, key_server):
    case_id, _ = a_case()
    resident_id = f"r-{case_id}"
    letter_id, call_id = await sent_by_letter_and_phone(
        runtime, key_server.keys, case_id, resident_id
    )
    key_server.keys.destroy(resident_id)  # intake answers 410 for their key
    async with staff(runtime) as client:
        letter = await client.get(f"/letters/{letter_id}")
        calls = await client.get("/calls")
    assert letter.status_code == 404 and "山田" not in letter.text
    assert calls.status_code == 200 and call_id not in calls.text
    assert await audited(runtime, "notify.letter_view", case_id) == []
    assert await audited(runtime, "notify.calls_view", case_id) == []


async def test_a_letter_whose_view_cannot_be_audited_is_not_shown(runtime, key_server):
    case_id, _ = a_case()
    letter_id, _ = await sent_by_letter_and_phone(runtime, key_server.keys, case_id, f"r-{case_id}")
    # PostgreSQL refuses this one staff member's audit entries (new rows only).
    refuse = "ALTER TABLE notify.audit_log ADD CONSTRAINT refuse_unaudited"
    async with runtime.engine.begin() as conn:
        await conn.execute(text(refuse + " CHECK (actor <> 'unaudited') NOT VALID"))
    try:
        async with staff(runtime, "unaudited") as client:
            letter = await client.get(f"/letters/{letter_id}")
            calls = await client.get("/calls")
    finally:
        async with runtime.engine.begin() as conn:
            await conn.execute(
                text("ALTER TABLE notify.audit_log DROP CONSTRAINT refuse_unaudited")
            )
    assert letter.status_code == 500 and "山田" not in letter.text
    assert calls.status_code == 500 and "0482222222" not in calls.text


async def test_a_letter_is_sealed_as_it_is_made_so_recording_it_needs_no_key_from_intake(
    start_notify, settings, smtp, producer, key_server: testing.IntakeKeyEndpoint
) -> None:
    # A letter is sealed with the resident's own key. It used to be sealed inside the
    # transaction that marks the send: with the key gone from the cache and intake down at
    # that moment, the mark failed and the delivery was left to its lease (and made again).
    # It is sealed as the send finishes instead, with the key just used to open the contact.
    runtime = await start_notify(
        TestClock(DAY),
        settings.model_copy(update={"internal_urls": {"intake": key_server.url}}),
        smtp_port=smtp.port,
    )
    await runtime.worker.stop()  # this test drives the sender
    runtime.background.remove(runtime.worker)
    case_id, number = a_case()
    resident_id = f"resident-{uuid.uuid4().hex[:8]}"
    created = case_created(
        settings, case_id, number, channels=["letter"], address="埼玉県川口市青木2-2-2"
    )
    contact = {"name": "山田 花子", "address": "埼玉県川口市青木2-2-2"}
    created.data["contact_sealed"] = key_server.keys.seal(resident_id, "contact", contact)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    accepted = referral_status_changed(case_id, number, "accepted", programme="elderly_support")
    await publish(producer, ROUTING_NOTIFY.name, accepted, case_id)
    key = resident_key(accepted, case_id, "programme_accepted")

    async def planned() -> Any:
        return await delivery_row(runtime, key)

    await eventually(planned)

    [claimed] = [c for c in await runtime.sender.claim() if c.row["case_id"] == case_id]
    attempt = await runtime.sender.deliver(claimed)
    assert attempt is not None and attempt.result.ok and attempt.channel == "letter"
    # Intake goes down, and the resident's key is no longer cached.
    key_server.up = False
    runtime.keys.forget(resident_id)
    asked = key_server.requests
    await runtime.sender.record([attempt])
    assert key_server.requests == asked, "the mark asked intake for a key"

    sent = await delivery_row(runtime, key)
    assert sent is not None and sent["status"] == "sent", sent
    letters = runtime.tables.letter
    async with runtime.sessions() as session:
        sealed = await session.scalar(
            select(letters.c.document_sealed).where(letters.c.delivery_id == sent["id"])
        )
    assert sealed is not None and "青木" not in sealed
    key_server.up = True
    assert "山田 花子" in (await runtime.sealer.open(sealed))["html"]


async def delivery_row(runtime: NotifyRuntime, dedup_key: str) -> dict[str, Any] | None:
    d = runtime.tables.delivery
    async with runtime.sessions() as session:
        row = (await session.execute(select(d).where(d.c.dedup_key == dedup_key))).first()
    return None if row is None else dict(row._mapping)
