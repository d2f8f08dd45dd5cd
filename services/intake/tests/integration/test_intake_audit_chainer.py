"""The audit's hash chain is sealed within a bounded time by the service's own background job,
even if nobody searches or verifies the audit (ADR 18)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from intake_helpers import eventually
from sqlalchemy import select

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared import audit as chain_log
from tsunagu.shared.settings import Settings

pytestmark = pytest.mark.integration


async def test_entries_nobody_reads_are_chained_within_the_chain_period(
    intake_settings: Settings,
) -> None:
    from tsunagu.intake.bootstrap import build_runtime

    settings = intake_settings.model_copy(update={"audit_chain_seconds": 0.5})
    runtime = build_runtime(settings, consumer=f"intake-chain-{uuid.uuid4().hex[:8]}")
    chainer = runtime.audit_chainer
    assert chainer in runtime.background and chainer.period == 0.5
    t = tables.audit_log
    actor = f"chain-{uuid.uuid4().hex[:8]}"
    try:
        async with runtime.sessions() as session, session.begin():
            for n in range(3):
                await chain_log.record(
                    session, t, actor, "case.view", case_id=f"c-{n}", case_ids=[f"c-{n}"]
                )

        async def hashes() -> list[str | None]:
            async with runtime.sessions() as session:
                rows = await session.execute(select(t.c.hash).where(t.c.actor == actor))
                return [h for (h,) in rows]

        await chainer.start()  # only the job: no search, no verify, no page

        async def chained() -> bool:
            return None not in await hashes()

        await eventually(chained, timeout=15)  # a few periods; fails if nothing chains
        assert len(await hashes()) == 3
        async with runtime.sessions() as session:
            assert await chain_log.verify(session, t) == []
    finally:
        await chainer.stop()
        await runtime.engine.dispose()
        await runtime.numbers.engine.dispose()


def test_the_chain_period_is_a_setting_with_a_bounded_default() -> None:
    assert Settings(service="intake").audit_chain_seconds == 30.0
    assert Settings(service="intake", audit_chain_seconds=5).audit_chain_seconds == 5.0


async def test_the_auditors_search_holds_no_transaction_open_while_it_asks_notify_and_food(
    intake_settings: Settings,
) -> None:
    """Notify's and food's audits are asked over HTTP with no intake transaction open; the
    search's own record is written after their answers, with what it showed."""
    import httpx
    from intake_helpers import token
    from sqlalchemy import text

    from tsunagu.intake.bootstrap import build_app

    seen_open: list[int] = []
    runtime_box: list[object] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        runtime = runtime_box[0]
        async with runtime.engine.connect() as conn:  # type: ignore[attr-defined]
            # Intake's connections inside a transaction that read the audit log, now.
            open_now = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND query ILIKE '%audit_log%'"
                )
            )
        seen_open.append(int(open_now or 0))
        body = b"[]"
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    here = f"http://127.0.0.1:{port}"
    settings = intake_settings.model_copy(
        update={"internal_urls": {"notify": here, "food_distribution": here}}
    )
    runtime = build_runtime_for(settings)
    runtime_box.append(runtime)
    app = build_app(settings, runtime)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.2", 40001))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as client:
            auditor = await token(client, "auditor")
            case_id = str(uuid.uuid4())
            found = await client.get("/api/v1/audit", headers=auditor, params={"case_id": case_id})
            assert found.status_code == 200, found.text
            assert found.json()["unreachable"] == []
            page = await client.get("/audit", headers=auditor, params={"case_id": case_id})
            assert page.status_code == 200, page.text
        assert seen_open == [0, 0, 0, 0], "a transaction of intake's was open during a call"
        async with runtime.sessions() as session:
            recorded = await session.execute(
                select(tables.audit_log.c.actor).where(
                    tables.audit_log.c.action == "audit.search",
                    tables.audit_log.c.case_id == case_id,
                )
            )
            assert [a for (a,) in recorded] == ["auditor", "auditor"]  # the API, the page
    finally:
        server.close()
        await runtime.engine.dispose()
        await runtime.numbers.engine.dispose()


def build_runtime_for(settings: Settings):  # type: ignore[no-untyped-def]
    from tsunagu.intake.bootstrap import build_runtime

    return build_runtime(settings, consumer=f"intake-audit-{uuid.uuid4().hex[:8]}")
