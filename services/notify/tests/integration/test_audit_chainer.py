"""Notify runs the audit chainer: its letter and call-list views are hash-chained by the
service itself, whether or not an auditor ever searches (ADR 18)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from tsunagu.notify.adapters.orm import tables
from tsunagu.notify.bootstrap import build_runtime
from tsunagu.notify.config import NotifyConfig
from tsunagu.shared import audit as chain_log
from tsunagu.shared.audit import AuditChainer
from tsunagu.shared.settings import Settings

pytestmark = pytest.mark.integration


async def test_notify_chains_its_own_audit_in_the_background(settings: Settings) -> None:
    runtime = build_runtime(
        settings.model_copy(update={"audit_chain_seconds": 7.0}),
        config=NotifyConfig(consumer_name=f"chain-{uuid.uuid4().hex[:6]}"),
    )
    try:
        [chainer] = [j for j in runtime.background if isinstance(j, AuditChainer)]
        assert chainer.table is tables.audit_log and chainer.period == 7.0
        actor = f"chain-{uuid.uuid4().hex[:8]}"
        async with runtime.sessions() as session, session.begin():
            await chain_log.record(
                session, tables.audit_log, actor, "notify.letter_view", case_ids=["c-1"]
            )
        await chainer.run_once()
        async with runtime.sessions() as session:
            [row] = (
                await session.execute(
                    select(tables.audit_log.c.hash).where(tables.audit_log.c.actor == actor)
                )
            ).all()
            assert row.hash is not None
            assert await chain_log.verify(session, tables.audit_log) == []
    finally:
        await runtime.engine.dispose()
