"""A service whose broker does not answer yet keeps trying to start, waiting a little longer
each time, and logs each failure by its type only."""

from __future__ import annotations

import asyncio
import itertools

from structlog.testing import capture_logs

from tsunagu.shared.runtime import ServiceRuntime, ServiceTables
from tsunagu.shared.settings import Settings


async def test_start_is_tried_until_the_broker_answers() -> None:
    runtime = ServiceRuntime(Settings(service="routing", env="test"), ServiceTables("probe"))
    tries: list[float] = []
    stopped: list[int] = []
    loop = asyncio.get_running_loop()

    async def start() -> None:
        tries.append(loop.time())
        if len(tries) < 3:
            raise ConnectionRefusedError("kafka at 127.0.0.1:9 refused 090-1234-5678")

    async def stop() -> None:
        stopped.append(len(tries))

    runtime.start = start  # type: ignore[method-assign]
    runtime.stop = stop  # type: ignore[method-assign]
    with capture_logs() as logs:
        await asyncio.wait_for(runtime.start_when_reachable(), timeout=10)
    await runtime.engine.dispose()

    assert len(tries) == 3
    assert stopped == [1, 2]  # what half-started is stopped before the next try
    waits = [later - earlier for earlier, later in itertools.pairwise(tries)]
    assert waits[0] >= 0.45 and waits[1] >= 0.95  # 0.5 s, then 1 s: longer each time
    failed = [e for e in logs if e["event"] == "service_start_failed"]
    assert [(e["attempt"], e["error"]) for e in failed] == [
        (1, "ConnectionRefusedError"),
        (2, "ConnectionRefusedError"),
    ]
    assert [e["attempts"] for e in logs if e["event"] == "service_started"] == [3]
    assert "090-1234-5678" not in repr(logs)
