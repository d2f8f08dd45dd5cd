"""Intake's side of residents' rights on real Kafka and PostgreSQL (ADR 12): who may erase, what
an erasure leaves, the retention job, and the outbox pruner."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from intake_helpers import App, case_body, eventually, read_topic, token
from sqlalchemy import func, select, update

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.auth import Principal, issue_token
from tsunagu.shared.contracts.envelope import utcnow
from tsunagu.shared.contracts.topics import INTAKE_CASE

pytestmark = pytest.mark.integration


def officer(app: App) -> dict[str, str]:
    principal = Principal(username="kojin", roles=frozenset({"privacy_officer"}))
    raw = issue_token(principal, app.settings.signing_key(), 600)
    return {"Authorization": f"Bearer {raw}"}


async def take_in(app: App, key: str | None = None) -> tuple[str, str]:
    headers = await token(app.client, "uketsuke")
    if key is not None:
        headers = headers | {"Idempotency-Key": key}
    created = await app.client.post("/api/v1/cases", json=case_body(), headers=headers)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    async with app.runtime.sessions() as session:
        resident_id = await session.scalar(
            select(tables.case.c.resident_id).where(tables.case.c.case_id == case_id)
        )
    return case_id, str(resident_id)


async def test_only_admins_and_privacy_officers_erase_and_a_reason_is_required(
    intake_app: App,
) -> None:
    case_id, resident_id = await take_in(intake_app, key=f"erase-me-{uuid.uuid4()}")
    url = f"/api/v1/residents/{resident_id}/erasure"
    uketsuke = await token(intake_app.client, "uketsuke")
    assert (
        await intake_app.client.post(url, json={"reason": "x"}, headers=uketsuke)
    ).status_code == 403
    blank = await intake_app.client.post(url, json={"reason": "  "}, headers=officer(intake_app))
    assert blank.status_code == 422
    assert "理由" in blank.text
    done = await intake_app.client.post(
        url, json={"reason": "本人からの消去請求"}, headers=officer(intake_app)
    )
    assert done.status_code == 200, done.text
    assert (done.json()["cases"], done.json()["already_erased"]) == (1, False)
    again = await intake_app.client.post(
        url, json={"reason": "二度目"}, headers=officer(intake_app)
    )
    assert again.json()["already_erased"] is True

    async with intake_app.runtime.sessions() as session:
        r = (
            await session.execute(
                select(tables.resident).where(tables.resident.c.resident_id == resident_id)
            )
        ).one()
        assert (r.name, r.name_kana, r.phone, r.email, r.address, r.birth_date) == (
            "", "", None, None, None, None,
        )  # fmt: skip
        case = (
            await session.execute(select(tables.case).where(tables.case.c.case_id == case_id))
        ).one()
        assert (case.notes, case.proxy, case.household_members) == (None, None, [])
        assert case.concerns  # what the counts need stays
        key = tables.resident_key
        assert await session.scalar(select(key).where(key.c.resident_id == resident_id)) is None
        # The Idempotency-Key that created the case no longer leads to it.
        k = tables.idempotency_key
        assert (
            await session.scalar(
                select(func.count()).select_from(k).where(k.c.outcome["case_id"].astext == case_id)
            )
            == 0
        )
        erasure = (await session.execute(select(tables.erasure))).all()
        assert [(e.resident_id, e.basis, e.erased_by) for e in erasure if e.resident_id == resident_id] == [
            (resident_id, "request", "kojin")
        ]  # fmt: skip
    assert (
        await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=uketsuke)
    ).status_code == 404

    async def published() -> bool:
        if await intake_app.runtime.relay.unsent_count():
            return False
        events = await read_topic(intake_app.settings.kafka_bootstrap, INTAKE_CASE.name, case_id)
        return [e.event_type for e in events] == ["case_created", "resident_erased"]

    await eventually(published)


async def test_the_retention_job_erases_residents_whose_last_contact_is_past_the_period(
    intake_app: App,
) -> None:
    old_case, old_resident = await take_in(intake_app)
    _, recent_resident = await take_in(intake_app)
    long_ago = utcnow() - timedelta(days=intake_app.settings.retention_days + 1)
    async with intake_app.runtime.sessions() as session, session.begin():
        await session.execute(
            update(tables.case)
            .where(tables.case.c.case_id == old_case)
            .values(created_at=long_ago, updated_at=long_ago)
        )
    assert await intake_app.runtime.retention.run_once() >= 1
    async with intake_app.runtime.sessions() as session:
        erased = dict(
            (
                await session.execute(select(tables.erasure.c.resident_id, tables.erasure.c.basis))
            ).all()
        )
        assert erased.get(old_resident) == "retention"
        assert recent_resident not in erased


async def test_sent_outbox_rows_are_pruned_after_the_keep_period(intake_app: App) -> None:
    await take_in(intake_app)
    await eventually(lambda: _zero(intake_app))
    outbox = tables.outbox
    async with intake_app.runtime.sessions() as session, session.begin():
        await session.execute(update(outbox).values(sent_at=utcnow() - timedelta(hours=25)))
    await take_in(intake_app)  # sent just now (or still waiting): kept
    assert await intake_app.runtime.pruner.prune() >= 1
    async with intake_app.runtime.sessions() as session:
        left = await session.scalar(select(func.count()).select_from(outbox))
        old = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.sent_at < utcnow() - timedelta(hours=24))
        )
    assert left >= 1 and old == 0


async def _zero(app: App) -> bool:
    return await app.runtime.relay.unsent_count() == 0


async def test_a_service_gets_a_batch_of_keys_for_its_purpose_only(intake_app: App) -> None:
    """Notify's sender asks for a claimed batch's residents at once (ADR 22): the same keys as
    one by one, the erased left out, and only the purposes the service is allowed."""
    import httpx

    from tsunagu.shared.internal import IntakeKeys, caller_headers

    (_, kept), (_, erased) = await take_in(intake_app), await take_in(intake_app)
    done = await intake_app.client.post(
        f"/api/v1/residents/{erased}/erasure",
        json={"reason": "消去請求"},
        headers=officer(intake_app),
    )
    assert done.status_code == 200, done.text
    as_notify = intake_app.settings.model_copy(update={"service": "notify"})
    keys = IntakeKeys(as_notify, transport=httpx.ASGITransport(app=intake_app.app))
    try:
        found = await keys._fetch_keys([kept, erased, str(uuid.uuid4())], "contact")
        assert list(found) == [kept]
        assert found[kept] == await keys._fetch_key(kept, "contact")
        # Prefetched: the cache answers without asking intake again.
        await keys.prefetch([kept, erased], "contact")
        assert await keys.purpose_key(kept, "contact") == found[kept]
        assert await keys.purpose_key(erased, "contact") is None
    finally:
        await keys.stop()
    url = "/internal/v1/keys/kana"  # notify may not have the furigana key
    body = {"resident_ids": [kept]}
    refused = await intake_app.client.post(url, json=body, headers=caller_headers(as_notify))
    assert refused.status_code == 403
    assert (await intake_app.client.post(url, json=body)).status_code == 401
    too_many = {"resident_ids": [kept] * 501}
    url = "/internal/v1/keys/contact"
    assert (
        await intake_app.client.post(url, json=too_many, headers=caller_headers(as_notify))
    ).status_code == 422
