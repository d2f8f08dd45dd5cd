"""Food distribution runs the audit chainer: the desk's views are hash-chained by the service
itself, whether or not an auditor ever searches (ADR 18)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.shared import audit as chain_log
from tsunagu.shared.audit import AuditChainer

pytestmark = pytest.mark.integration


async def test_food_chains_its_own_audit_in_the_background(food) -> None:
    runtime = food.runtime
    [chainer] = [j for j in runtime.background if isinstance(j, AuditChainer)]
    assert chainer.table is tables.audit_log
    assert chainer.period == food.settings.audit_chain_seconds
    actor = f"chain-{uuid.uuid4().hex[:8]}"
    async with runtime.sessions() as session, session.begin():
        await chain_log.record(session, tables.audit_log, actor, "food.search", case_ids=["c-1"])
    await chainer.run_once()
    async with runtime.sessions() as session:
        [row] = (
            await session.execute(
                select(tables.audit_log.c.hash).where(tables.audit_log.c.actor == actor)
            )
        ).all()
        assert row.hash is not None
        assert await chain_log.verify(session, tables.audit_log) == []
