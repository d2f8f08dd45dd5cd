"""The desk's stock is pushed: an open stream reads nothing while nothing changes (nor when
another event's stock does), and a handout at its event reaches it at once, woken by
PostgreSQL's notification (migration 0008), over a real HTTP server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from food_kit import Food, bearer, uid
from sqlalchemy import event

pytestmark = pytest.mark.integration


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(name, data) of each server-sent event; comments (keep-alives) are skipped."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield name, json.loads("\n".join(data)) if name == "stock" else "\n".join(data)
            name, data = "message", []


def _standard(stock: dict[str, Any]) -> int:
    return next(i["remaining"] for i in stock["items"] if i["parcel_type"] == "standard")


async def test_an_idle_stream_reads_nothing_and_a_handout_is_pushed(
    food: Food, served: str
) -> None:
    feed = food.runtime.stock_feed  # type: ignore[attr-defined]
    await feed.start()
    try:
        for _ in range(100):
            if feed.listening:
                break
            await asyncio.sleep(0.05)
        assert feed.listening
        ev = uid("ev")
        await food.stock(ev, standard=5)
        case = await food.case(event_id=ev)
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        engine = food.runtime.engine.sync_engine
        event.listen(engine, "before_cursor_execute", seen)
        headers = {**bearer(food.settings, "desk9"), "Accept": "text/event-stream"}
        try:
            async with (
                httpx.AsyncClient(base_url=served, headers=headers, timeout=30) as client,
                client.stream("GET", "/desk/stock/stream", params={"event_id": ev}) as response,
            ):
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                stream = _events(response)
                name, first = await asyncio.wait_for(anext(stream), 10)
                assert (name, _standard(first)) == ("stock", 5)
                assert first["event_id"] == ev

                # Another event's stock changes; then nothing for longer than a recheck.
                await food.stock(uid("ev"), standard=3)
                statements.clear()
                await asyncio.sleep(4.0)
                looked = [s for s in statements if "stock" in s.lower()]
                assert looked == [], "an idle stream read the stock"

                given = await food.client("desk2").post(
                    "/api/v1/handouts", json={"case_id": case["case_id"], "parcel_type": "standard"}
                )
                assert given.status_code == 201
                name, pushed = await asyncio.wait_for(anext(stream), 10)
                assert (name, _standard(pushed)) == ("stock", 4)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    finally:
        await feed.stop()


async def test_the_stream_is_the_food_desks_and_for_a_known_event(food: Food, served: str) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=30) as client:
        anonymous = await client.get("/desk/stock/stream", params={"event_id": "x"})
        assert anonymous.status_code == 401
        intake = await client.get(
            "/desk/stock/stream",
            params={"event_id": "x"},
            headers=bearer(food.settings, "uketsuke", ("intake",)),
        )
        assert intake.status_code == 403
        unknown = await client.get(
            "/desk/stock/stream",
            params={"event_id": uid("nowhere")},
            headers=bearer(food.settings),
        )
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "event_not_found"
