"""The periodic job's loop: full batches run again at once, failures are survived and logged by
type only, and stop lets the batch in hand finish."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from tsunagu.shared.periodic import PeriodicJob


class Scripted(PeriodicJob):
    """Hands out the given batch sizes (an exception is raised), then idles."""

    def __init__(self, script: list[int | Exception], **kw: object) -> None:
        super().__init__("scripted", **kw)  # type: ignore[arg-type]
        self.script = script
        self.runs = 0
        self.idle = asyncio.Event()

    async def run_once(self) -> int:
        self.runs += 1
        if not self.script:
            self.idle.set()
            return 0
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


async def test_a_full_batch_runs_the_next_one_at_once() -> None:
    job = Scripted([10, 10, 3], period=60, batch_size=10)
    await job.start()
    # Two full batches and a short one, then the 60 s wait: the third run is the last for now.
    await asyncio.sleep(0.2)
    await job.stop()
    assert job.runs == 3


async def test_a_failed_batch_is_logged_by_type_and_the_job_goes_on() -> None:
    secret = "川口 花子 090-1234-5678"
    job = Scripted([ValueError(secret), ValueError(secret), 1], period=0.01)
    with capture_logs() as logs:
        await job.start()
        await asyncio.wait_for(job.idle.wait(), timeout=5)
        await job.stop()
    failed = [e for e in logs if e["event"] == "periodic_job_failed"]
    assert [(e["job"], e["error"], e["failures"]) for e in failed] == [
        ("scripted", "ValueError", 1)
    ]
    assert [e["failures"] for e in logs if e["event"] == "periodic_job_recovered"] == [2]
    assert secret not in repr(logs)


async def test_stop_waits_for_the_batch_in_hand() -> None:
    finished = asyncio.Event()

    class Slow(PeriodicJob):
        async def run_once(self) -> int:
            await asyncio.sleep(0.2)
            finished.set()
            return 1

    job = Slow("slow", period=60)
    await job.start()
    await asyncio.sleep(0.05)
    await job.stop()
    assert finished.is_set()
    assert job.stopping
