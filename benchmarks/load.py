"""Load shapes shared by the floor and the system run.

- ``rate_run``: open loop at a fixed rate. Case ``i`` is due at ``t0 + i / rate`` and its
  latencies are measured from that due time, not from when the generator got round to sending
  it, so a stalled pipeline cannot hide its stall (no coordinated omission).
- ``saturation_run``: closed loop, ``concurrency`` submitters as fast as the pipeline accepts;
  latencies from each actual send; throughput from the first send to the last arrival.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from benchmarks.mix import CaseSpec
from benchmarks.observe import Observer
from benchmarks.report import END_TO_END, STAGES, stage_table
from benchmarks.resources import ResourceSampler

#: ``submit(spec)`` returns the case's key (its case_id) once accepted, or None on refusal.
Submit = Callable[[CaseSpec], Awaitable[str | None]]


@dataclass
class Submissions:
    starts: dict[str, float] = field(default_factory=dict)
    accepted: dict[str, float] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    t_first: float = 0.0
    t_last_sent: float = 0.0
    behind_s: float = 0.0  # how far the open-loop generator fell behind its schedule, at most

    @property
    def keys(self) -> list[str]:
        return list(self.starts)


async def _one(submit: Submit, spec: CaseSpec, start: float | None, subs: Submissions) -> None:
    sent = time.perf_counter()
    try:
        key = await submit(spec)
    except Exception as exc:
        subs.errors[type(exc).__name__] += 1
        return
    if key is None:
        subs.errors["refused"] += 1
        return
    subs.starts[key] = start if start is not None else sent
    subs.accepted[key] = time.perf_counter()


async def rate_run(
    submit: Submit,
    specs: Sequence[CaseSpec],
    rate: float,
    *,
    max_in_flight: int = 256,
    slack_s: float | None = None,
) -> Submissions:
    """Offer ``specs`` at ``rate``; a pipeline that cannot keep up holds the generator back
    (at most ``max_in_flight`` unanswered), and past the planned duration plus ``slack_s`` the
    rest is not sent at all but counted as ``not sent (generator held back)``."""
    subs = Submissions()
    planned = len(specs) / rate
    give_up = time.perf_counter() + planned + (slack_s if slack_s is not None else planned + 10)
    sem = asyncio.Semaphore(max_in_flight)
    tasks: list[asyncio.Task[None]] = []

    async def guarded(spec: CaseSpec, due: float) -> None:
        try:
            await _one(submit, spec, due, subs)
        finally:
            sem.release()

    t0 = time.perf_counter() + 0.02
    subs.t_first = t0
    for i, spec in enumerate(specs):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            subs.behind_s = max(subs.behind_s, -delay)
            if i % 16 == 0:
                await asyncio.sleep(0)
        await sem.acquire()
        if time.perf_counter() > give_up:
            sem.release()
            subs.errors["not sent (generator held back)"] = len(specs) - i
            break
        tasks.append(asyncio.create_task(guarded(spec, due)))
    subs.t_last_sent = time.perf_counter()
    await asyncio.gather(*tasks)
    return subs


async def saturation_run(
    submit: Submit, specs: Sequence[CaseSpec], *, concurrency: int = 64
) -> Submissions:
    subs = Submissions()
    queue: asyncio.Queue[CaseSpec] = asyncio.Queue()
    for spec in specs:
        queue.put_nowait(spec)

    async def worker() -> None:
        while True:
            try:
                spec = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await _one(submit, spec, None, subs)

    subs.t_first = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    subs.t_last_sent = time.perf_counter()
    return subs


async def measure(
    *,
    title: str,
    kind: str,
    subs: Submissions,
    observer: Observer,
    sampler: ResourceSampler,
    wait_stage: str = END_TO_END,
    drain_timeout: float,
    notes: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wait for the cases to reach ``wait_stage``, then tabulate every stage and resources."""
    t_wait = time.perf_counter()
    await observer.wait(subs.keys, wait_stage, drain_timeout)
    t_end = time.perf_counter()
    arrivals = observer.arrivals(subs.keys, [s for s, _ in STAGES if s != "submit"])
    arrivals["submit"] = subs.accepted
    stages = stage_table(subs.starts, arrivals, subs.keys)
    offered = len(subs.starts) + sum(subs.errors.values())
    run: dict[str, Any] = {
        "title": title,
        "kind": kind,
        "offered": offered,
        "accepted": len(subs.starts),
        "errors": dict(subs.errors),
        "send_seconds": round(subs.t_last_sent - subs.t_first, 2),
        "drain_wait_seconds": round(t_end - t_wait, 2),
        "generator_behind_max_s": round(subs.behind_s, 3),
        "stages": stages,
        "resources": sampler.window(subs.t_first, t_end),
        "database": sampler.db.window(subs.t_first, t_end) if sampler.db is not None else {},
        "consumer_lag": sampler.lag.window(subs.t_first, t_end) if sampler.lag is not None else {},
        "delivery_statuses": dict(observer.delivery_statuses),
        "notes": list(notes),
    }
    if extra:
        run.update(extra)
    done = stages[wait_stage]["completed"]
    if done < len(subs.starts):
        run["notes"].append(
            f"{len(subs.starts) - done} of {len(subs.starts)} accepted cases did not reach "
            f"{wait_stage} within the drain time"
        )
    if subs.errors:
        run["notes"].append(f"refused or failed submissions: {dict(subs.errors)}")
    return run


@dataclass(frozen=True)
class Profile:
    """How much load each mode sends. Counts are bounded: this machine is shared."""

    name: str
    tiers: tuple[str, ...]  # what runs unless --tiers says otherwise
    rate: float  # cases/s of the latency run (issue 9 compares p99 at 200 cases/s)
    rate_cases: int
    floor_saturation_cases: int
    system_saturation_cases: int
    concurrency: int = 64
    warmup_cases: int = 20  # system (and framework) warm-up, at up to 100 cases/s
    floor_warmup_cases: int = 400  # the floor runs first: this also warms the broker's JIT
    drain_timeout: float = 30.0
    #: A light-load run first: latency with no backlog anywhere (what a single case costs).
    light_rate: float = 3.0
    light_cases: int = 0
    #: Before it, a window with no load at all: what each process spends doing nothing.
    idle_seconds: float = 0.0
    #: The sustained-rate check of the target (1,000 cases/s); 0 skips it.
    target_rate: float = 0.0
    target_rate_cases: int = 0
    #: Latency-run and target-rate counts for the slower chains (framework, system); 0 means
    #: the same as the floor's.
    system_rate_cases: int = 0
    system_target_rate_cases: int = 0
    scaling: bool = False
    floor_scale_cases: int = 0  # the 1x count; 10x is ten times it
    system_scale_cases: int = 0
    floor_replica_cases: int = 0
    system_replica_cases: int = 0


def scaled(profile: Profile, factor: float) -> Profile:
    """The same profile with every case count multiplied by ``factor`` (at least 1 case)."""
    if factor == 1:
        return profile
    counts = {
        f.name: max(1, round(getattr(profile, f.name) * factor))
        for f in fields(profile)
        if f.name.endswith("_cases") and getattr(profile, f.name)
    }
    return replace(profile, **counts)


PROFILES: dict[str, Profile] = {
    # A reduced quick mode for the test suite: proves the harness runs end to end.
    "smoke": Profile(
        name="smoke",
        tiers=("floor", "system"),
        rate=50,
        rate_cases=30,
        floor_saturation_cases=200,
        system_saturation_cases=15,
        warmup_cases=5,
        floor_warmup_cases=50,
        drain_timeout=20,
    ),
    # `make bench`: indicative figures in a minute or two (the system's share of the time is
    # mostly notify draining its deliveries; it shrinks as the system gets faster).
    "quick": Profile(
        name="quick",
        tiers=("floor", "system"),
        rate=200,
        rate_cases=200,
        light_cases=15,
        idle_seconds=10,
        floor_saturation_cases=2000,
        system_saturation_cases=100,
        warmup_cases=20,
        floor_warmup_cases=400,
        drain_timeout=30,
    ),
    # `make bench-full`: the run recorded in benchmarks/README.md.
    "full": Profile(
        name="full",
        tiers=("floor", "framework", "system"),
        rate=200,
        rate_cases=2000,
        system_rate_cases=600,
        light_cases=60,
        idle_seconds=20,
        floor_saturation_cases=10_000,
        system_saturation_cases=400,
        warmup_cases=50,
        floor_warmup_cases=2000,
        drain_timeout=60,
        target_rate=1000,
        target_rate_cases=5000,
        system_target_rate_cases=2000,
        scaling=True,
        floor_scale_cases=2000,
        system_scale_cases=50,
        floor_replica_cases=6000,
        system_replica_cases=400,
    ),
}


@dataclass
class Context:
    """What every tier gets from the runner: infrastructure, a database, the sampler."""

    bootstrap: str
    database_url: str  # SQLAlchemy URL of this run's database
    dsn: str  # the same as a libpq DSN for asyncpg
    log_dir: Any
    sampler: ResourceSampler
    profile: Profile
    on_cleanup: Callable[[Callable[[], None]], None]
    track: Callable[[int | None], None]  # record a started child process (benchmarks.children)
    seed: int = 9
    profile_services: tuple[str, ...] = ()
    infra_pids: dict[str, int] = field(default_factory=dict)
