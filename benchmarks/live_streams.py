"""Live pages at rest and on a change: what 20 open boards cost intake, and how fast they hear.

    uv run python -m benchmarks.live_streams            # 20 boards, 30 s idle
    uv run python -m benchmarks.live_streams --streams 50 --idle 60

Starts its own Kafka and PostgreSQL (``var/bench/live``, ports 29192 and 25532; or
``TSUNAGU_BENCH_KAFKA_BOOTSTRAP`` + ``TSUNAGU_BENCH_DATABASE_URL``), migrates, loads the demo
staff and events, and runs intake as its own process on port 28100. Then:

1. intake's CPU over the idle window with no stream open (its relay, consumers and timers);
2. the same with ``--streams`` event day boards open (``/board/stream``, as the tablets do);
3. one change (a case moved on the board) and the time until every open board has it.

Targets (issue 22): the boards add under 5 % of one core; the change reaches all within 1 s.
The result is printed and written to ``var/bench/results/<timestamp>-live.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from tsunagu.devstack.processes import ServiceProcess

REPO_ROOT = Path(__file__).resolve().parents[1]
VAR = REPO_ROOT / "var" / "bench"
KAFKA_PORT, POSTGRES_PORT, INTAKE_PORT = 29192, 25532, 28100
PASSWORD = os.environ.get("TSUNAGU_DEMO_PASSWORD", "tsunagu-demo")
TARGET_CPU_SHARE = 0.05
TARGET_REACH_SECONDS = 1.0


def _infra() -> Any:
    from tsunagu.devstack.infra import Infra, start_infra

    kafka = os.environ.get("TSUNAGU_BENCH_KAFKA_BOOTSTRAP")
    db = os.environ.get("TSUNAGU_BENCH_DATABASE_URL")
    if kafka and db:
        return Infra(kafka_bootstrap=kafka, database_url=db, source="environment")
    for name in ("TSUNAGU_KAFKA_BOOTSTRAP", "TSUNAGU_DATABASE_URL"):
        os.environ.pop(name, None)  # never a development stack by accident
    return start_infra(
        VAR / "live",
        kafka_port=KAFKA_PORT,
        postgres_port=POSTGRES_PORT,
        durable=False,
        allow_containers=False,
        fresh=True,
    )


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *args], env={**os.environ, **env}, cwd=REPO_ROOT, check=False,
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout[-400:]} {done.stderr[-400:]}")


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _cpu_share(process: psutil.Process, seconds: float) -> float:
    """Share of one core the process used over the next ``seconds``."""
    before, started = _cpu_seconds(process), time.monotonic()
    await asyncio.sleep(seconds)
    return (_cpu_seconds(process) - before) / (time.monotonic() - started)


class Board:
    """One open board stream; ``updates`` holds when each ``update`` event arrived."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client, self.url = client, url
        self.updates: list[float] = []
        self.task: asyncio.Task[None] | None = None

    def open(self) -> None:
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async with self.client.stream("GET", self.url, timeout=None) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line == "event: update":
                    self.updates.append(time.monotonic())

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def measure(streams: int, idle: float) -> dict[str, Any]:
    infra = _infra()
    service: ServiceProcess | None = None
    try:
        env = {
            "TSUNAGU_ENV": "test",
            "TSUNAGU_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
            "TSUNAGU_DATABASE_URL": infra.database_url,
            "TSUNAGU_DEMO_PASSWORD": PASSWORD,
        }
        _run(["tsunagu.shared.cli", "topics", "create"], env)
        _run(["tsunagu.shared.cli", "migrate"], env)
        _run(["tsunagu.intake.demo"], {**env, "TSUNAGU_ENV": "dev"})
        service = ServiceProcess("intake", env, VAR / "live" / "logs", port=INTAKE_PORT)
        service.start()
        await asyncio.to_thread(service.wait_ready, 120)
        assert service.process is not None
        intake = psutil.Process(service.process.pid)

        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            login = await client.post(
                "/api/v1/auth/token", data={"username": "uketsuke", "password": PASSWORD}
            )
            login.raise_for_status()
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            today = datetime.now(UTC).astimezone().date().isoformat()
            events = (
                await client.get("/api/v1/events", params={"from_date": today, "to_date": today})
            ).json()
            event_id = events[0]["event_id"]
            case = await _a_case(client, event_id)

            await asyncio.sleep(5)  # settle after start-up
            baseline = await _cpu_share(intake, idle)

            boards = [Board(client, f"/board/stream?event_id={event_id}") for _ in range(streams)]
            for board in boards:
                board.open()
            deadline = time.monotonic() + 30
            while any(not b.updates for b in boards) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            opened = sum(1 for b in boards if b.updates)
            await asyncio.sleep(3)
            with_boards = await _cpu_share(intake, idle)

            counts = [len(b.updates) for b in boards]
            changed_at = time.monotonic()
            moved = await client.post(
                f"/api/v1/cases/{case}/board-status", json={"status": "in_consultation"}
            )
            moved.raise_for_status()
            deadline = changed_at + 10
            while time.monotonic() < deadline and any(  # noqa: ASYNC110
                len(b.updates) == n for b, n in zip(boards, counts, strict=True)
            ):
                await asyncio.sleep(0.01)
            reach = [
                (b.updates[n] - changed_at) if len(b.updates) > n else None
                for b, n in zip(boards, counts, strict=True)
            ]
            for board in boards:
                await board.close()
        reached = [r for r in reach if r is not None]
        added = max(0.0, with_boards - baseline)
        return {
            "streams": streams,
            "opened": opened,
            "idle_seconds": idle,
            "cpu_share_without_streams": round(baseline, 4),
            "cpu_share_with_streams": round(with_boards, 4),
            "cpu_share_added_by_streams": round(added, 4),
            "change_reached": len(reached),
            "change_reach_seconds_max": round(max(reached), 3) if reached else None,
            "change_reach_seconds_median": round(sorted(reached)[len(reached) // 2], 3)
            if reached
            else None,
            "targets": {
                "cpu_share_added_below": TARGET_CPU_SHARE,
                "reach_seconds_below": TARGET_REACH_SECONDS,
            },
            "met": bool(
                opened == streams
                and added < TARGET_CPU_SHARE
                and len(reached) == streams
                and max(reached) < TARGET_REACH_SECONDS
            ),
        }
    finally:
        if service is not None:
            service.stop()
        infra.stop()


async def _a_case(client: httpx.AsyncClient, event_id: str) -> str:
    body = {
        "event_id": event_id,
        "resident": {"name": "計測 太郎", "name_kana": "けいそく たろう", "phone": "090-1234-5678"},
        "concerns": ["isolation"],
        "consent": {"share_across_programmes": True, "basis": "consent", "contact_channels": ["none"]},
    }  # fmt: skip
    created = await client.post("/api/v1/cases", json=body)
    if created.status_code != 201:
        raise RuntimeError(f"the case was refused: {created.status_code} {created.text[:300]}")
    return str(created.json()["case_id"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--idle", type=float, default=30.0, help="idle window, seconds")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.streams, args.idle))
    out = VAR / "results" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-live.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
