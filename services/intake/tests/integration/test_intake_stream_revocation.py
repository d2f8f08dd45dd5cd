"""An open live stream follows its sign-in: once the session is ended, the stream says ``gone``
within seconds (the page then reloads into the login) instead of pushing cases until the
browser happens to reconnect. Run on intake served by uvicorn (a real stream)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from intake_helpers import token

pytestmark = pytest.mark.integration


async def _until(lines: AsyncIterator[str], prefix: str) -> None:
    async for line in lines:
        if line.startswith(prefix):
            return
    raise AssertionError(f"the stream ended without {prefix!r}")


async def test_an_open_stream_ends_within_seconds_of_its_sessions_logout(
    served_intake: str,
) -> None:
    async with httpx.AsyncClient(base_url=served_intake, timeout=30) as client:
        headers = await token(client, "welfare_fund")
        async with client.stream("GET", "/inbox/stream", headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            await asyncio.wait_for(_until(lines, "event: update"), 15)

            # Ended on another connection while the stream stays open.
            async with httpx.AsyncClient(base_url=served_intake, timeout=30) as other:
                out = await other.post("/api/v1/auth/logout", headers=headers)
            assert out.status_code == 204, out.text
            ended = time.monotonic()

            await asyncio.wait_for(_until(lines, "event: gone"), 15)
            took = time.monotonic() - ended
            # ... and nothing follows: the server closed the stream.
            rest = await asyncio.wait_for(_collect(lines), 5)
            assert not [line for line in rest if line.startswith(("event:", "data: <"))]
        assert took < 15
        again = await client.get("/inbox/stream", headers=headers)
        assert again.status_code == 401


async def _collect(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]


async def test_a_stream_of_a_live_session_keeps_going(served_intake: str) -> None:
    """The re-check does not end streams whose sign-in stands (it would make the pages flicker)."""
    async with httpx.AsyncClient(base_url=served_intake, timeout=30) as client:
        headers = await token(client, "welfare_fund")
        async with client.stream("GET", "/inbox/stream", headers=headers) as stream:
            lines = stream.aiter_lines()
            await asyncio.wait_for(_until(lines, "event: update"), 15)
            seen: list[str] = []

            async def read() -> None:
                async for line in lines:
                    seen.append(line)

            with pytest.raises(TimeoutError):
                # Several re-checks (every 3 s) pass; the stream stays open.
                await asyncio.wait_for(read(), 10)
            assert "event: gone" not in seen
