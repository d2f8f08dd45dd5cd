"""The floor: the same chain of hops as the system on bare aiokafka and asyncpg, nothing else.

    driver ──▶ floor.intake.case.v1 ──▶ hop 1 ──▶ floor.routing.case.v1
                                          │  └──▶ floor.routing.programme.<p>.v1 ──▶ hop 2 ──▶ floor.notify.delivery.v1

- the topics are the registry's topics with a ``floor.`` prefix and the same partition counts;
- producers use the services' options (acks=all, idempotent, linger 5 ms);
- each hop is its own process (as each service is), consumes in a consumer group, and for every
  message does one PostgreSQL insert-and-commit, then publishes; after each fetched batch it
  waits for the broker's acks and commits its offsets (at-least-once, like the services);
- hop 1 publishes ``case_routed`` and one ``referral_created`` per programme the case reaches
  (computed by the driver with routing's rules, so the fan-out equals the system's); hop 2
  publishes a ``delivery_attempted`` (sent) per referral, standing in for notify's staff message.
No framework, no validation, no service logic: the cost of the guarantees alone. The records
have the shape of the real events, so the same observer times floor and system.

Run a hop by hand: ``python -m benchmarks.floor hop --role 1 --bootstrap ... --dsn ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from benchmarks import mix, profiling
from benchmarks.load import Context, Profile, measure, rate_run, saturation_run
from benchmarks.observe import Observer, Topics, wait_group_stable, wait_leaders
from benchmarks.report import END_TO_END

PREFIX = "floor."
GROUP = {1: "floor-hop1", 2: "floor-hop2"}
REPO_ROOT = Path(__file__).resolve().parents[1]

#: The services' producer options (tsunagu.shared.broker.PRODUCER_OPTIONS).
PRODUCER = {"acks": "all", "enable_idempotence": True, "linger_ms": 5, "request_timeout_ms": 30_000}
#: The hops' long-poll; see README "fetch wait". TSUNAGU_BENCH_FLOOR_FETCH_WAIT_MS overrides it.
FETCH_MAX_WAIT_MS = int(os.environ.get("TSUNAGU_BENCH_FLOOR_FETCH_WAIT_MS", "500"))

_TABLE = """
CREATE SCHEMA IF NOT EXISTS floor;
CREATE TABLE IF NOT EXISTS floor.hop{n} (
    event_id    text PRIMARY KEY,
    case_id     text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     text NOT NULL
);
"""


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _envelope(
    event_type: str, producer: str, data: dict[str, Any], cause: dict[str, Any] | None = None
) -> bytes:
    return _dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": datetime.now(UTC).isoformat(),
            "producer": producer,
            "correlation_id": (cause or {}).get("correlation_id") or str(uuid.uuid4()),
            "causation_id": (cause or {}).get("event_id"),
            "data": data,
        }
    )


def case_created(case_id: str, spec: mix.CaseSpec) -> bytes:
    """What intake would publish for the case (sizes alike: sealed contact included)."""
    body = spec.body
    return _envelope(
        "case_created",
        "floor-driver",
        {
            "case_id": case_id,
            "case_number": f"F-{spec.index:06d}",
            "event_id": "floor-event",
            "venue_id": "floor-venue",
            "household_id": str(uuid.uuid4()),
            "resident_id": str(uuid.uuid4()),
            "taken_by": "uketsuke",
            "facts": {
                "concerns": body["concerns"],
                "most_pressing": body["most_pressing"],
                "lives_alone": body["resident"]["lives_alone"],
                "urgent": body["urgent"],
            },
            "consent": {**body["consent"], "language": "ja"},
            "contact_sealed": secrets.token_urlsafe(240),
            "created_at": datetime.now(UTC).isoformat(),
            # The floor's stand-in for routing's decision: which programmes get a referral.
            "programmes": list(spec.programmes),
        },
    )


def hop1_events(env: dict[str, Any], topics: Topics) -> list[tuple[str, str, dict[str, Any]]]:
    """What hop 1 publishes for a ``case_created``: ``case_routed`` and one ``referral_created``
    per programme the driver listed (topic, event type, data)."""
    data = env["data"]
    deadline = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    refs = [
        {
            "referral_id": str(uuid.uuid4()),
            "programme": p,
            "role": "lead" if i == 0 else "member",
            "status": "pending",
            "deadline_at": deadline,
            "reasons": [],
        }
        for i, p in enumerate(data["programmes"])
    ]
    common = {
        "case_id": data["case_id"],
        "case_number": data["case_number"],
        "event_id": data["event_id"],
    }
    routed = {
        **common,
        "rule_version": "floor",
        "lead": refs[0]["programme"] if refs else None,
        "compound": len(refs) >= 3,
        "urgent": False,
        "food_parcel_eligible": False,
        "referrals": refs,
    }
    out = [(topics.routing_case, "case_routed", routed)]
    by_programme = {t.rsplit(".", 2)[-2]: t for t in topics.programmes}
    for r in refs:
        referral = {
            **common,
            "referral_id": r["referral_id"],
            "programme": r["programme"],
            "role": r["role"],
            "urgent": False,
            "deadline_at": deadline,
            "concerns": data["facts"]["concerns"],
            "reasons": [],
        }
        out.append((by_programme[r["programme"]], "referral_created", referral))
    return out


def hop2_events(env: dict[str, Any], topics: Topics) -> list[tuple[str, str, dict[str, Any]]]:
    """What hop 2 publishes for a ``referral_created``: the staff message, recorded as sent."""
    data = env["data"]
    delivery = {
        "delivery_id": str(uuid.uuid4()),
        "case_id": data["case_id"],
        "dedup_key": f"{env['event_id']}:team:{data['programme']}:new_referral",
        "recipient_kind": "team",
        "channel": "email",
        "template": "new_referral",
        "status": "sent",
        "attempt": 1,
        "error": None,
        "at": datetime.now(UTC).isoformat(),
    }
    return [(topics.delivery, "delivery_attempted", delivery)]


async def hop(
    role: int, bootstrap: str, dsn: str, prefix: str, group: str, fetch_max_wait_ms: int
) -> None:
    """One hop: consume, insert-and-commit per message, publish, ack, commit offsets."""
    from aiokafka import AIOKafkaConsumer

    topics = Topics.registry(prefix)
    sources = [topics.intake] if role == 1 else list(topics.programmes)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    conn = await asyncpg.connect(dsn)
    insert = f"INSERT INTO floor.hop{role} (event_id, case_id, payload) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, client_id=f"floor-hop{role}", **PRODUCER
    )
    consumer = AIOKafkaConsumer(
        *sources,
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=f"floor-hop{role}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await producer.start()
    await consumer.start()
    stats = {"messages": 0, "batches": 0, "db_s": 0.0, "work_s": 0.0, "ack_s": 0.0, "commit_s": 0.0}
    clock = time.perf_counter
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            if not batch:
                continue
            acks = []
            t_batch = clock()
            for records in batch.values():
                for r in records:
                    env = json.loads(r.value)
                    t = clock()
                    await conn.execute(
                        insert, env["event_id"], env["data"]["case_id"], r.value.decode()
                    )
                    stats["db_s"] += clock() - t
                    events = hop1_events(env, topics) if role == 1 else hop2_events(env, topics)
                    for topic, event_type, data in events:
                        value = _envelope(event_type, f"floor-hop{role}", data, env)
                        acks.append(await producer.send(topic, value, key=r.key))
                    stats["messages"] += 1
            t = clock()
            stats["work_s"] += t - t_batch
            await asyncio.gather(*acks)
            t2 = clock()
            await consumer.commit()
            stats["ack_s"] += t2 - t
            stats["commit_s"] += clock() - t2
            stats["batches"] += 1
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await producer.stop()
        await conn.close()
        print(
            "floor-hop-stats "
            + json.dumps({"role": role, **{k: round(v, 3) for k, v in stats.items()}}),
            flush=True,
        )


# --- the driver's side ------------------------------------------------------------------------


async def create_topics(bootstrap: str, topics: Topics, prefix: str) -> None:
    """The registry's topics under ``prefix``, with the registry's partition counts."""
    from tsunagu.shared.contracts.topics import partitions_of

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-admin")
    deadline = time.monotonic() + 60
    while True:
        try:
            await admin.start()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics.all() if t not in existing]
        if wanted:
            new = [NewTopic(t, partitions_of(t.removeprefix(prefix)), 1) for t in wanted]
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()


@dataclass(frozen=True)
class Chain:
    """A two-hop chain under test: the floor, or the same hops on tsunagu.shared (framework)."""

    name: str
    prefix: str
    module: str  # ``python -m <module> hop --role N ...`` runs one hop
    groups: dict[int, str]
    what: str
    setup: Callable[[Context, Topics], Awaitable[None]]
    #: Which of the profile's case counts this chain uses: "floor" or "system" (slower chains).
    counts: str = "floor"

    def rate_cases(self, p: Profile) -> int:
        return (
            p.system_rate_cases if self.counts == "system" and p.system_rate_cases else p.rate_cases
        )

    def target_rate_cases(self, p: Profile) -> int:
        slow = self.counts == "system" and p.system_target_rate_cases
        return p.system_target_rate_cases if slow else p.target_rate_cases

    def warmup_cases(self, p: Profile) -> int:
        return p.floor_warmup_cases if self.counts == "floor" else p.warmup_cases

    def saturation_cases(self, p: Profile) -> int:
        return p.floor_saturation_cases if self.counts == "floor" else p.system_saturation_cases

    def scale_cases(self, p: Profile) -> int:
        return p.floor_scale_cases if self.counts == "floor" else p.system_scale_cases

    def replica_cases(self, p: Profile) -> int:
        return p.floor_replica_cases if self.counts == "floor" else p.system_replica_cases


class HopProcess:
    def __init__(self, chain: Chain, role: int, name: str, ctx: Context) -> None:
        self.chain, self.role, self.name, self.ctx = chain, role, name, ctx
        self.label = f"{chain.name} {name}"
        self.process: subprocess.Popen[bytes] | None = None
        self.profile: Path | None = None

    def start(self) -> None:
        log = open(self.log, "ab")  # noqa: SIM115
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
            ),
        }
        args = [self.chain.module, "hop", "--role", str(self.role),
                "--bootstrap", self.ctx.bootstrap, "--dsn", self.ctx.dsn, "--database-url", self.ctx.database_url,
                "--prefix", self.chain.prefix, "--group", self.chain.groups[self.role]]  # fmt: skip
        cmd = [sys.executable, "-m", *args]
        if f"{self.chain.name}-{self.name}" in self.ctx.profile_services:
            self.profile = (
                Path(self.ctx.log_dir) / f"profile-{self.chain.name}-{self.name}.pyisession"
            )
            cmd = profiling.wrap(args, self.profile)
        self.process = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.ctx.track(self.process.pid)
        self.ctx.on_cleanup(self.stop)
        self.ctx.sampler.add(self.label, self.process.pid)

    @property
    def log(self) -> Path:
        return Path(self.ctx.log_dir) / f"{self.chain.name}-{self.name}.log"

    def stats(self) -> dict[str, Any] | None:
        """Where the hop spent its time (printed when it stops), over the whole run."""
        try:
            lines = [
                x for x in self.log.read_text().splitlines() if x.startswith("floor-hop-stats ")
            ]
        except OSError:
            return None
        return json.loads(lines[-1].split(" ", 1)[1]) if lines else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(profiling.STOP_TIMEOUT if self.profile else 20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.ctx.sampler.remove(self.label)


class FloorDriver:
    def __init__(self, ctx: Context, topics: Topics) -> None:
        self.ctx, self.topics = ctx, topics
        self.producer = AIOKafkaProducer(
            bootstrap_servers=ctx.bootstrap, client_id="floor-driver", **PRODUCER
        )

    async def submit(self, spec: mix.CaseSpec) -> str:
        case_id = str(uuid.uuid4())
        ack = await self.producer.send(
            self.topics.intake, case_created(case_id, spec), key=case_id.encode()
        )
        await ack
        return case_id


async def _floor_setup(ctx: Context, topics: Topics) -> None:
    conn = await asyncpg.connect(ctx.dsn)
    try:
        for n in (1, 2):
            await conn.execute(_TABLE.format(n=n))
    finally:
        await conn.close()


FLOOR = Chain(
    name="floor",
    prefix=PREFIX,
    module="benchmarks.floor",
    groups=GROUP,
    what="bare aiokafka + asyncpg, 2 consumer hops in their own processes, acks=all, idempotent, "
    "1 PostgreSQL insert-and-commit per message per hop, offsets committed after each batch",
    setup=_floor_setup,
)


async def run_floor(ctx: Context) -> dict[str, Any]:
    return await run_chain(ctx, FLOOR)


async def run_chain(ctx: Context, chain: Chain) -> dict[str, Any]:
    p = ctx.profile
    topics = Topics.registry(chain.prefix)
    result: dict[str, Any] = {"what": chain.what}
    await create_topics(ctx.bootstrap, topics, chain.prefix)
    await wait_leaders(ctx.bootstrap, topics.all())
    await chain.setup(ctx, topics)
    hops = [HopProcess(chain, 1, "hop1", ctx), HopProcess(chain, 2, "hop2", ctx)]
    for h in hops:
        h.start()
    driver = FloorDriver(ctx, topics)
    await driver.producer.start()
    observer = Observer(ctx.bootstrap, topics)
    await observer.start()
    try:
        for role in (1, 2):
            await wait_group_stable(ctx.bootstrap, chain.groups[role], 1, limit_s=60)
        # Warm up (the floor runs first, so this also warms the broker's JIT), then measure.
        warm = mix.generate(chain.warmup_cases(p), seed=ctx.seed, start=10_000_000)
        subs = await rate_run(
            driver.submit, warm, rate=p.rate if chain.counts == "floor" else min(p.rate, 100)
        )
        got = await observer.wait(subs.keys, END_TO_END, p.drain_timeout)
        if got == 0:
            dead = [h.name for h in hops if not h.alive()]
            raise RuntimeError(
                f"no warm-up case went through the {chain.name} (hops exited: {dead or 'none'})"
            )

        if p.light_cases:
            specs = mix.generate(p.light_cases, seed=ctx.seed + 5)
            subs = await rate_run(driver.submit, specs, p.light_rate)
            result["light"] = await measure(
                title=f"light load: {len(specs)} cases at {p.light_rate:g}/s (open loop)",
                kind="rate", subs=subs, observer=observer, sampler=ctx.sampler, drain_timeout=p.drain_timeout,
            )  # fmt: skip
        specs = mix.generate(chain.rate_cases(p), seed=ctx.seed)
        subs = await rate_run(driver.submit, specs, p.rate)
        result["rate"] = await measure(
            title=f"latency run: {len(specs)} cases offered at {p.rate:g}/s (open loop)",
            kind="rate", subs=subs, observer=observer, sampler=ctx.sampler, drain_timeout=p.drain_timeout,
        )  # fmt: skip
        specs = mix.generate(chain.saturation_cases(p), seed=ctx.seed + 1)
        subs = await saturation_run(driver.submit, specs, concurrency=p.concurrency)
        result["saturation"] = await measure(
            title=f"saturation run: {len(specs)} cases, {p.concurrency} submitters (closed loop)",
            kind="saturation", subs=subs, observer=observer, sampler=ctx.sampler, drain_timeout=p.drain_timeout,
        )  # fmt: skip
        if p.scaling:
            result["scaling"] = await _chain_scaling(ctx, chain, driver, observer, hops)
        # last: a pipeline that cannot sustain it leaves a backlog behind
        if p.target_rate:
            specs = mix.generate(chain.target_rate_cases(p), seed=ctx.seed + 2)
            subs = await rate_run(driver.submit, specs, p.target_rate)
            run = await measure(
                title=f"target rate: {len(specs)} cases offered at {p.target_rate:g}/s (open loop)",
                kind="rate", subs=subs, observer=observer, sampler=ctx.sampler, drain_timeout=p.drain_timeout,
            )  # fmt: skip
            run["sustained"] = _sustained(run, p.target_rate)
            result["target_rate"] = run
    finally:
        await observer.stop()
        await driver.producer.stop()
        for h in hops:
            h.stop()
    result["hop_stats"] = {h.name: h.stats() for h in hops if h.stats()}
    profiles = {h.name: profiling.render(h.profile) for h in hops if h.profile is not None}
    if profiles:
        result["profiles"] = profiles
    result["fetch_max_wait_ms"] = FETCH_MAX_WAIT_MS
    return result


def _sustained(run: dict[str, Any], rate: float) -> bool:
    e2e = run["stages"][END_TO_END]
    return bool(e2e["completed"] == run["offered"] and e2e["throughput_per_s"] >= 0.95 * rate)


def _peak_rss(run: dict[str, Any], prefix: str) -> dict[str, float]:
    return {k: v["rss_mib_max"] for k, v in run["resources"].items() if k.startswith(prefix)}


def scale_summary(small: dict[str, Any], large: dict[str, Any], prefix: str) -> dict[str, Any]:
    """1x vs 10x: time, throughput, and how much each process's peak RSS grew."""
    a, b = small["stages"][END_TO_END], large["stages"][END_TO_END]
    ta, tb = small["completion_seconds"], large["completion_seconds"]
    ra, rb = _peak_rss(small, prefix), _peak_rss(large, prefix)
    growth = {k: round((rb[k] - ra[k]) / ra[k] * 100, 1) for k in ra if k in rb and ra[k]}
    worst = max(growth, key=lambda k: growth[k], default=None)
    return {
        "small": {
            "cases": small["offered"],
            "seconds": ta,
            "throughput_per_s": a["throughput_per_s"],
            "peak_rss_mib": ra,
        },
        "large": {
            "cases": large["offered"],
            "seconds": tb,
            "throughput_per_s": b["throughput_per_s"],
            "peak_rss_mib": rb,
        },
        "time_ratio": round(tb / ta, 2) if ta else None,
        "max_rss_growth_pct": growth.get(worst) if worst else None,
        "max_rss_growth_process": worst,
        "rss_growth_pct": growth,
    }


def completion_seconds(run: dict[str, Any]) -> float:
    e2e = run["stages"][END_TO_END]
    return (
        round(e2e["completed"] / e2e["throughput_per_s"], 2) if e2e.get("throughput_per_s") else 0.0
    )


async def _chain_scaling(
    ctx: Context, chain: Chain, driver: FloorDriver, observer: Observer, hops: list[HopProcess]
) -> dict[str, Any]:
    p = ctx.profile
    out: dict[str, Any] = {}
    runs = []
    for factor in (1, 10):
        specs = mix.generate(chain.scale_cases(p) * factor, seed=ctx.seed + 10 + factor)
        subs = await saturation_run(driver.submit, specs, concurrency=p.concurrency)
        run = await measure(
            title=f"{factor}x: {len(specs)} cases", kind="saturation", subs=subs, observer=observer,
            sampler=ctx.sampler, drain_timeout=p.drain_timeout,
        )  # fmt: skip
        run["completion_seconds"] = completion_seconds(run)
        runs.append(run)
    out["cases"] = scale_summary(runs[0], runs[1], chain.name)

    # hop 1 with one replica, then two: a burst straight onto its input topic, timed to case_routed
    replica: dict[str, Any] = {}
    extra = HopProcess(chain, 1, "hop1b", ctx)
    for n in (1, 2):
        if n == 2:
            extra.start()
            hops.append(extra)
        members = await wait_group_stable(ctx.bootstrap, chain.groups[1], n, limit_s=60)
        specs = mix.generate(chain.replica_cases(p), seed=ctx.seed + 20 + n)
        subs = await saturation_run(driver.submit, specs, concurrency=p.concurrency)
        run = await measure(
            title=f"hop 1 x{n}", kind="saturation", subs=subs, observer=observer, sampler=ctx.sampler,
            wait_stage="routed", drain_timeout=p.drain_timeout,
        )  # fmt: skip
        routed = run["stages"]["routed"]
        replica["one" if n == 1 else "two"] = {
            "cases": len(specs), "group_members": members, "throughput_per_s": routed["throughput_per_s"],
            "p99_ms": routed.get("p99_ms"),
        }  # fmt: skip
    replica["stage"] = "hop 1 (routed)"
    one, two = replica["one"]["throughput_per_s"], replica["two"]["throughput_per_s"]
    replica["speedup"] = round(two / one, 2) if one else None
    out["replicas"] = replica
    return out


def hop_args(argv: list[str] | None, prog: str) -> argparse.Namespace:
    """The command line of a hop process (floor and framework take the same arguments)."""
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True)
    h = sub.add_parser("hop", help="run one hop until SIGTERM")
    h.add_argument("--role", type=int, choices=(1, 2), required=True)
    h.add_argument("--bootstrap", required=True)
    h.add_argument("--dsn", help="libpq DSN (floor)")
    h.add_argument("--database-url", help="SQLAlchemy URL (framework)")
    h.add_argument("--prefix", default=PREFIX)
    h.add_argument("--group")
    h.add_argument("--fetch-max-wait-ms", type=int, default=FETCH_MAX_WAIT_MS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = hop_args(argv, "python -m benchmarks.floor")
    group = args.group or GROUP[args.role]
    asyncio.run(
        hop(args.role, args.bootstrap, args.dsn, args.prefix, group, args.fetch_max_wait_ms)
    )


if __name__ == "__main__":
    main()
