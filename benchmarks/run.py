"""``python -m benchmarks.run --quick | --full``: floor and system in the same run, ratios last.

1. starts Kafka and PostgreSQL of its own (ports 29092 and 25432, data under
   ``var/bench/infra``, wiped at every start), so it runs beside ``make up`` and ``make test``;
2. creates this run's database, then runs the tiers one after the other:
   ``floor`` (bare aiokafka + asyncpg chain), ``framework`` (the same chain on tsunagu.shared),
   ``system`` (the four services as processes on ports 28000-28003, cases through intake's API);
3. prints the report (ratios last) and writes ``var/bench/results/<timestamp>-<mode>.json``;
4. stops everything it started, whatever happened.

TSUNAGU_KAFKA_BOOTSTRAP / TSUNAGU_DATABASE_URL are ignored, so a benchmark never runs against a
development or test stack by accident; set TSUNAGU_BENCH_KAFKA_BOOTSTRAP and
TSUNAGU_BENCH_DATABASE_URL to run against servers of your own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks import mix, report
from benchmarks.children import Children
from benchmarks.load import PROFILES, Context, scaled
from benchmarks.observe import LagSampler
from benchmarks.resources import DbWaitSampler, ResourceSampler

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / "var" / "bench"
INFRA_DIR = BENCH_DIR / "infra"
RESULTS_DIR = BENCH_DIR / "results"
LOGS_DIR = BENCH_DIR / "logs"
# Ports of the benchmark's own servers; TSUNAGU_BENCH_KAFKA_PORT (Kafka also uses the next port)
# and TSUNAGU_BENCH_POSTGRES_PORT move them, e.g. when two people benchmark on one machine.
KAFKA_PORT = int(os.environ.get("TSUNAGU_BENCH_KAFKA_PORT", "29092"))
POSTGRES_PORT = int(os.environ.get("TSUNAGU_BENCH_POSTGRES_PORT", "25432"))
TIERS = ("floor", "framework", "system")
KEEP_LOG_RUNS = 10


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class Cleanup:
    """Stops what was started, last first; runs every step even if one fails."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], None]] = []

    def add(self, step: Callable[[], None]) -> None:
        self.steps.append(step)

    def run(self) -> None:
        while self.steps:
            step = self.steps.pop()
            try:
                step()
            except Exception as exc:
                say(f"cleanup step failed: {type(exc).__name__}: {exc}")


def _prune(directory: Path, keep: int) -> None:
    """Keep the logs (and profiles) of the newest ``keep`` runs only."""
    runs = sorted((d for d in directory.iterdir() if d.is_dir()), key=lambda d: d.name)
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def child_environment() -> None:
    """Environment every process the benchmark starts inherits (they copy ``os.environ``).

    Bytecode is cached under ``var/bench/pycache`` rather than next to the sources (which
    ``PYTHONDONTWRITEBYTECODE`` keeps clean), so services do not recompile every import at each
    start; this changes start-up time only, nothing that is measured.
    """
    os.environ["PYTHONPYCACHEPREFIX"] = str(BENCH_DIR / "pycache")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


class Busy(RuntimeError):
    """Another benchmark run on this machine holds ``var/bench`` (its ports and its data)."""


def _lock(wait_s: float) -> Any:
    """One benchmark at a time per checkout: its infrastructure and ports are fixed, and a fresh
    start would stop and wipe another run's Kafka and PostgreSQL. The lock dies with its
    process, so a killed run never blocks the next one."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    handle = open(BENCH_DIR / "run.lock", "w")  # noqa: SIM115
    deadline = time.monotonic() + wait_s
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise Busy(f"another benchmark run holds {BENCH_DIR / 'run.lock'}") from None
            if not told:
                say(f"another benchmark run is in progress; waiting up to {wait_s:.0f} s ...")
                told = True
            time.sleep(1)


def _start_infra(cleanup: Cleanup) -> Any:
    from tsunagu.devstack.infra import Infra, start_infra
    from tsunagu.devstack.kafka import KafkaServer
    from tsunagu.devstack.postgres import PostgresServer

    kafka = os.environ.get("TSUNAGU_BENCH_KAFKA_BOOTSTRAP")
    db = os.environ.get("TSUNAGU_BENCH_DATABASE_URL")
    if kafka and db:
        return Infra(kafka_bootstrap=kafka, database_url=db, source="environment")

    def stop_partial() -> None:  # a start that failed half-way leaves no server behind
        KafkaServer(INFRA_DIR / "kafka", port=KAFKA_PORT).stop()
        PostgresServer(INFRA_DIR / "postgres", port=POSTGRES_PORT).stop("fast")

    cleanup.add(stop_partial)
    saved = {
        k: os.environ.pop(k)
        for k in ("TSUNAGU_KAFKA_BOOTSTRAP", "TSUNAGU_DATABASE_URL")
        if k in os.environ
    }
    try:
        infra = start_infra(
            INFRA_DIR,
            kafka_port=KAFKA_PORT,
            postgres_port=POSTGRES_PORT,
            durable=False,
            allow_containers=False,
            fresh=True,
        )
    finally:
        os.environ.update(saved)
    cleanup.add(infra.stop)
    return infra


def _infra_pids(infra: Any) -> dict[str, int]:
    pids: dict[str, int] = {}
    if infra.kafka is not None:
        pid = infra.kafka.running_pid()
        if pid:
            pids["kafka"] = pid
    if infra.postgres is not None:
        pidfile = infra.postgres.data_dir / "pgdata" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pids["postgres"] = int(pidfile.read_text().split()[0])
    return pids


async def _bench(
    args: argparse.Namespace,
    infra: Any,
    cleanup: Cleanup,
    children: Children,
    results: dict[str, Any],
) -> None:
    from tsunagu.devstack.infra import create_database
    from tsunagu.shared.db import asyncpg_dsn

    profile = scaled(PROFILES[args.mode], args.scale)
    stamp = results["started_at"].replace(":", "").replace("-", "")
    database_url = await create_database(infra.database_url, f"bench_{stamp}".lower(), drop=True)
    log_dir = LOGS_DIR / stamp
    log_dir.mkdir(parents=True, exist_ok=True)
    _prune(LOGS_DIR, keep=KEEP_LOG_RUNS)
    results["log_dir"] = str(log_dir)
    sampler = ResourceSampler()
    pids = _infra_pids(infra)
    sampler.add("kafka", pids.get("kafka"))
    sampler.add("postgres (all backends)", pids.get("postgres"), group=True)
    sampler.add("bench driver (load + observer)", os.getpid())
    sampler.start()
    cleanup.add(sampler.stop)
    sampler.db = DbWaitSampler(asyncpg_dsn(database_url))
    await sampler.db.start()
    sampler.lag = LagSampler(infra.kafka_bootstrap)
    await sampler.lag.start()
    ctx = Context(
        bootstrap=infra.kafka_bootstrap,
        database_url=database_url,
        dsn=asyncpg_dsn(database_url),
        log_dir=log_dir,
        sampler=sampler,
        profile=profile,
        on_cleanup=cleanup.add,
        track=children.track,
        seed=args.seed,
        profile_services=tuple(args.profile_services),
        infra_pids=pids,
    )
    try:
        await _tiers(args, ctx, results)
    finally:
        await sampler.lag.stop()
        await sampler.db.stop()


async def _tiers(args: argparse.Namespace, ctx: Context, results: dict[str, Any]) -> None:
    for tier in args.tiers:
        t0 = time.monotonic()
        say(f"{tier} run ...")
        try:
            results[tier] = await _run_tier(tier, ctx)
        except Exception as exc:
            results[tier] = {
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
            say(f"{tier} run failed: {type(exc).__name__}: {exc}")
        results[tier]["seconds"] = round(time.monotonic() - t0, 1)
        say(f"{tier} run done in {results[tier]['seconds']} s")


async def _run_tier(tier: str, ctx: Context) -> dict[str, Any]:
    if tier == "floor":
        from benchmarks.floor import run_floor

        return await run_floor(ctx)
    if tier == "framework":
        from benchmarks.framework import run_framework

        return await run_framework(ctx)
    from benchmarks.system import run_system

    return await run_system(ctx)


def _scaling(results: dict[str, Any], mode: str) -> dict[str, Any]:
    if not PROFILES[mode].scaling:
        return {
            "skipped": f"{mode} mode skips scaling (1x vs 10x cases, 1 vs 2 routing replicas); run --full"
        }
    out: dict[str, Any] = {}
    for tier in TIERS:
        s = (results.get(tier) or {}).get("scaling")
        if s:
            out[tier] = s
    return out


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the results (also printed and written as JSON)."""
    args = parse_args(argv)
    started = datetime.now().astimezone()
    results: dict[str, Any] = {
        "mode": args.mode,
        "started_at": started.isoformat(timespec="seconds"),
        "machine": report.machine(),
        "git_commit": _git_commit(),
        "tiers": list(args.tiers),
        "rate_per_s": PROFILES[args.mode].rate,
        "profile": scaled(PROFILES[args.mode], args.scale).__dict__,
        "scale": args.scale,
        "mix": mix.shares(mix.generate(2000, seed=args.seed)),
    }
    lock = _lock(args.wait)
    saved_env = dict(os.environ)
    child_environment()
    cleanup = Cleanup()
    cleanup.add(lock.close)  # registered first: released after everything else stopped
    cleanup.add(lambda: _restore_environment(saved_env))
    children = Children(BENCH_DIR / "children.json")
    leftovers = children.stop_leftovers()
    if leftovers:
        say(f"stopped {len(leftovers)} process(es) left over by an earlier run: {leftovers}")
    # Registered first, so it runs last: whatever a failing stop step left alive.
    cleanup.add(lambda: _report_stragglers(children.stop_all()))
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    t0 = time.monotonic()
    try:
        say(
            f"{args.mode} mode: starting Kafka :{KAFKA_PORT} and PostgreSQL :{POSTGRES_PORT} under {INFRA_DIR} ..."
        )
        infra = _start_infra(cleanup)
        results["infrastructure"] = {"source": infra.source, "kafka": infra.kafka_bootstrap}
        say(f"infrastructure up in {time.monotonic() - t0:.0f} s")
        asyncio.run(_bench(args, infra, cleanup, children, results))
    finally:
        say("stopping everything the benchmark started ...")
        cleanup.run()
        signal.signal(signal.SIGTERM, previous)
    results["total_seconds"] = round(time.monotonic() - t0, 1)
    results["ratios"] = report.ratios(results)
    results["scaling"] = _scaling(results, args.mode)
    results["targets"] = report.targets(results)
    path = report.write_json(results, Path(args.results_dir))
    results["results_file"] = str(path)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    print(report.render(results), flush=True)
    return results


def _restore_environment(saved: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(saved)


def _report_stragglers(pids: list[int]) -> None:
    if pids:
        say(f"had to stop {len(pids)} process(es) whose own stop step failed: {pids}")


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _git_commit() -> str | None:
    """The commit measured, from git itself: reading ``.git`` by hand missed refs once packed
    (``git gc``) and worktrees, where ``.git`` is a file."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", dest="mode", action="store_const", const="quick", help="about a minute (default)"
    )
    mode.add_argument(
        "--full",
        dest="mode",
        action="store_const",
        const="full",
        help="the recorded run, with scaling",
    )
    mode.add_argument(
        "--smoke",
        dest="mode",
        action="store_const",
        const="smoke",
        help="a reduced quick mode (tests)",
    )
    parser.add_argument(
        "--tiers",
        help=f"comma-separated, of {', '.join(TIERS)} (default: floor,system; full mode adds framework)",
    )
    parser.add_argument(
        "--profile-services",
        default="",
        help="comma-separated services to run under pyinstrument; reports land in the log directory",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every case count (e.g. 0.1 to try --full quickly)",
    )
    parser.add_argument(
        "--wait", type=float, default=900.0, help="seconds to wait for another benchmark run to end"
    )
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    args = parser.parse_args(argv)
    args.mode = args.mode or "quick"
    args.tiers = [t for t in (args.tiers or ",".join(PROFILES[args.mode].tiers)).split(",") if t]
    unknown = set(args.tiers) - set(TIERS)
    if unknown:
        parser.error(f"unknown tier(s): {', '.join(sorted(unknown))}")
    args.profile_services = [s for s in args.profile_services.split(",") if s]
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        results = run(argv)
    except Busy as exc:
        say(str(exc))
        return 2
    failed = [t for t in results["tiers"] if (results.get(t) or {}).get("error")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
