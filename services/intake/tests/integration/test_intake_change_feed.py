"""The live pages' wake-up: a committed change to a case reaches the feed, with its case id."""

from __future__ import annotations

import asyncio

import pytest
from intake_helpers import App, case_body, token
from sqlalchemy import update

from tsunagu.intake.adapters.change_feed import ChangeFeed, channel_for
from tsunagu.intake.adapters.orm import tables

pytestmark = pytest.mark.integration


async def test_a_committed_change_wakes_the_feed_with_the_case_id(intake_app: App) -> None:
    settings = intake_app.settings
    feed = ChangeFeed(settings.database_url, channel_for(settings.db_schema))
    await feed.start()
    try:
        for _ in range(50):
            if feed.listening:
                break
            await asyncio.sleep(0.1)
        assert feed.listening
        since = feed.version
        headers = await token(intake_app.client, "uketsuke")
        created = await intake_app.client.post("/api/v1/cases", json=case_body(), headers=headers)
        case_id = created.json()["case_id"]
        version, changed = await feed.wait(since, 5.0)
        assert version > since
        assert changed is not None and case_id in changed

        # Nothing committed: nothing to wake for (a rolled-back change sends nothing).
        since = version
        async with intake_app.runtime.sessions() as session:
            await session.execute(
                update(tables.case).where(tables.case.c.case_id == case_id).values(notes="x")
            )
            await session.rollback()
        assert await feed.wait(since, 1.0) == (since, frozenset())

        # A change to its referrals or routing names the case too.
        async with intake_app.runtime.sessions() as session, session.begin():
            await session.execute(
                update(tables.case)
                .where(tables.case.c.case_id == case_id)
                .values(board_status="done")
            )
        version, changed = await feed.wait(since, 5.0)
        assert changed == frozenset({case_id})
    finally:
        await feed.stop()
