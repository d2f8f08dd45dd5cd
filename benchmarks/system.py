"""The system run: the real stack, cases submitted through intake's API, timed on the bus.

- Kafka and PostgreSQL are the runner's (``var/bench/infra``); this module creates the
  registry's topics, migrates every service (``tsunagu migrate``), loads the demo data
  (``python -m tsunagu.intake.demo``: venues, today's events, staff ``uketsuke``) and starts the
  four services as processes (``tsunagu.devstack.processes.ServiceProcess``) on ports
  28000-28003, plus an SMTP sink (aiosmtpd) on 28025 that notify delivers staff email to.
- The load generator logs in (``POST /api/v1/auth/token``), picks today's event
  (``GET /api/v1/events``) and posts cases (``POST /api/v1/cases`` with an ``Idempotency-Key``)
  with the mix of ``benchmarks.mix``; the HTTP latency is the ``submit`` stage.
- ``benchmarks.observe.Observer`` times each case on the bus: ``case_created`` (intake's
  outbox), (a) ``case_routed``, (b) ``referral_created`` per programme topic, (c) the staff
  message notify recorded as sent (``delivery_attempted`` on ``notify.delivery.v1``).
- Scaling (full mode): 1x vs 10x cases through the API; routing with 1 and 2 replicas, timed
  on a burst of ``case_created`` events written straight to ``intake.case.v1`` (so intake's
  HTTP layer does not cap what routing is offered).
- ``--profile-services routing,notify`` runs those services under pyinstrument; the reports
  land next to the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from benchmarks import events, mix, profiling, timeline
from benchmarks.floor import PRODUCER, completion_seconds, scale_summary
from benchmarks.load import Context, measure, rate_run, saturation_run
from benchmarks.observe import Observer, Topics, wait_group_stable, wait_leaders
from benchmarks.report import END_TO_END
from tsunagu.devstack.keys import key_env
from tsunagu.devstack.processes import SERVICES, ServiceProcess
from tsunagu.shared.clock import japan_today

# The services' HTTP ports are TSUNAGU_BENCH_HTTP_PORT_BASE (default 28000) + 0..3, the second
# routing + 11, the SMTP sink + 25.
_BASE = int(os.environ.get("TSUNAGU_BENCH_HTTP_PORT_BASE", "28000"))
PORTS = {"intake": _BASE, "routing": _BASE + 1, "notify": _BASE + 2, "food_distribution": _BASE + 3}
EXTRA_ROUTING_PORT = _BASE + 11
SMTP_PORT = _BASE + 25
STAFF_USER = "uketsuke"
REPO_ROOT = Path(__file__).resolve().parents[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _append(path: Path) -> Any:
    return open(path, "ab")


class Refused(Exception):
    """intake answered something other than 201."""


def readiness_problems() -> list[str]:
    """What keeps the stack from starting at all (checked before anything is started)."""
    from tsunagu.shared.contracts.topics import ALL_TOPICS
    from tsunagu.shared.services import registered

    problems = []
    named = {t.producer for t in ALL_TOPICS} | {c for t in ALL_TOPICS for c in t.consumers}
    for missing in sorted(named - set(registered())):
        problems.append(f"{missing}: named in the topic registry but not installed")
    for service in SERVICES:
        package = registered()[service].package
        if find_spec(f"{package}.bootstrap") is None:
            problems.append(f"{service}: no composition root ({package}.bootstrap)")
        try:
            versions = resources.files(package) / "migrations" / "versions"
            if not any(p.name.endswith(".py") for p in versions.iterdir()):
                problems.append(f"{service}: no migrations in {package}/migrations/versions")
        except (FileNotFoundError, NotADirectoryError, ModuleNotFoundError):
            problems.append(f"{service}: no migrations directory")
    if find_spec("tsunagu.intake") is not None and find_spec("tsunagu.intake.demo") is None:
        problems.append("intake: no demo data loader (tsunagu.intake.demo)")
    return problems


class BenchService(ServiceProcess):
    """A service process, optionally run under pyinstrument (``profile_to``)."""

    def __init__(self, *args: Any, profile_to: Path | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.profile_to = profile_to

    def stop(self, timeout: float = 30.0) -> None:
        if self.profile_to is None:
            super().stop(timeout)
            return
        # uvicorn re-raises the signal it shut down on: SIGTERM's default action would kill the
        # process before pyinstrument writes; SIGINT comes back as KeyboardInterrupt, which
        # pyinstrument catches, writes the session, and exits.
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(profiling.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def start(self) -> None:
        if self.profile_to is None:
            super().start()
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.env,
            "TSUNAGU_SERVICE": self.service,
            "TSUNAGU_HTTP_PORT": str(self.port),
        }
        out = open(self.log_dir / f"{self.service}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            profiling.wrap(["tsunagu.shared.cli", "serve", self.service], self.profile_to),
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        out.close()
        self.starts += 1


class Stack:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.password = os.environ.get("TSUNAGU_DEMO_PASSWORD", "tsunagu-demo")
        service_env = os.environ.get("TSUNAGU_BENCH_SERVICE_ENV", "test")
        # The run's day, pinned as the test stacks pin theirs (ADR 28): a run that passes
        # midnight in Tokyo still takes cases in for the events it seeded. Prod refuses a pin.
        self.today = japan_today()
        pinned = {} if service_env == "prod" else {"TSUNAGU_PINNED_DATE": self.today.isoformat()}
        self.env = {
            "TSUNAGU_ENV": service_env,
            **pinned,
            "TSUNAGU_KAFKA_BOOTSTRAP": ctx.bootstrap,
            "TSUNAGU_DATABASE_URL": ctx.database_url,
            "TSUNAGU_INTAKE_URL": f"http://127.0.0.1:{PORTS['intake']}",
            "TSUNAGU_ROUTING_URL": f"http://127.0.0.1:{PORTS['routing']}",
            "TSUNAGU_NOTIFY_URL": f"http://127.0.0.1:{PORTS['notify']}",
            "TSUNAGU_FOOD_URL": f"http://127.0.0.1:{PORTS['food_distribution']}",
            "TSUNAGU_DEMO_PASSWORD": self.password,
            "TSUNAGU_NOTIFY_SMTP_HOST": "127.0.0.1",
            "TSUNAGU_NOTIFY_SMTP_PORT": str(SMTP_PORT),
            # Settings overrides for an experiment, e.g. TSUNAGU_BENCH_ENV="TSUNAGU_RELAY_POLL_SECONDS=0.1"
            **dict(
                kv.split("=", 1)
                for kv in os.environ.get("TSUNAGU_BENCH_ENV", "").split()
                if "=" in kv
            ),
        }
        self.log_dir = Path(ctx.log_dir) / "system"
        self.services: dict[str, BenchService] = {}
        self.smtp: subprocess.Popen[bytes] | None = None
        self.profiles: dict[str, Path] = {}

    async def _command(
        self, name: str, args: list[str], extra_env: dict[str, str] | None = None
    ) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        env = {**os.environ, **self.env, **(extra_env or {})}
        out = _append(log)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                *args,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
            code = await proc.wait()
        finally:
            out.close()
        if code != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-8:]
            raise RuntimeError(f"{' '.join(args)} exited {code}: " + " | ".join(tail))

    async def start(self) -> None:
        from tsunagu.shared.contracts.topics import all_topic_names
        from tsunagu.shared.kafka_admin import create_topics

        ctx = self.ctx
        await create_topics(ctx.bootstrap)
        await wait_leaders(ctx.bootstrap, all_topic_names())
        await self._command("migrate", ["tsunagu.shared.cli", "migrate"])
        # Demo staff exist in dev mode only; the services themselves run as TSUNAGU_ENV=test.
        await self._command("demo", ["tsunagu.intake.demo"], {"TSUNAGU_ENV": "dev"})
        busy = [
            port for port in (*PORTS.values(), EXTRA_ROUTING_PORT, SMTP_PORT) if _port_open(port)
        ]
        if busy:
            raise RuntimeError(
                f"ports {busy} are in use on 127.0.0.1: is another benchmark running?"
            )
        self._start_smtp()
        for service in SERVICES:
            self.add(service, PORTS[service])
        await self.wait_ready(list(self.services.values()))

    def _start_smtp(self) -> None:
        out = open(self.log_dir / "smtp-sink.log", "ab")  # noqa: SIM115
        self.smtp = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{SMTP_PORT}", "-c", "aiosmtpd.handlers.Sink"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        out.close()
        self.ctx.track(self.smtp.pid)
        self.ctx.on_cleanup(self._stop_smtp)
        self.ctx.sampler.add("smtp sink", self.smtp.pid)

    def _stop_smtp(self) -> None:
        if self.smtp is not None and self.smtp.poll() is None:
            self.smtp.terminate()
            try:
                self.smtp.wait(10)
            except subprocess.TimeoutExpired:
                self.smtp.kill()

    def add(self, service: str, port: int, name: str | None = None) -> BenchService:
        name = name or service
        profile = None
        if service in self.ctx.profile_services:
            profile = self.log_dir / f"profile-{name}.pyisession"
            self.profiles[name] = profile
        log_dir = self.log_dir if name == service else self.log_dir / name
        env = {**self.env, **key_env(service, self.log_dir.parent / "keys")}
        proc = BenchService(service, env, log_dir, port=port, profile_to=profile)
        proc.start()
        assert proc.process is not None
        self.ctx.track(proc.process.pid)
        self.ctx.on_cleanup(proc.stop)
        self.ctx.sampler.add(name, proc.process.pid)
        self.services[name] = proc
        return proc

    async def wait_ready(self, procs: list[BenchService]) -> None:
        await asyncio.gather(*(asyncio.to_thread(p.wait_ready, 120) for p in procs))

    def stop(self) -> None:
        for name, proc in reversed(self.services.items()):
            proc.stop()
            self.ctx.sampler.remove(name)
        self._stop_smtp()

    def render_profiles(self) -> dict[str, str]:
        """Text reports of the profiled services (after they stopped and wrote their sessions)."""
        return {name: profiling.render(session) for name, session in self.profiles.items()}


class Client:
    """intake's API as the load generator uses it.

    aiohttp, not httpx: with 64 connections httpx spent 4.2–4.5 ms of CPU on each request,
    aiohttp ~0.2 ms (benchmarks/README.md, issue 21, 2026-12-07): a ceiling of ~230 submissions
    a second of the driver's own, taken from the cores the system runs on."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        self.base_url = base_url
        self.concurrency = concurrency
        self.headers: dict[str, str] = {}
        self._http: aiohttp.ClientSession | None = None
        self.event_id = ""
        self.venue_id = ""
        self.samples: list[str] = []  # the first refusals, for the report

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:  # made inside the running loop
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=60.0),
                connector=aiohttp.TCPConnector(limit=self.concurrency),
            )
        return self._http

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
        """The status and body text of a request to ``path`` (or a whole URL)."""
        url = path if path.startswith("http") else self.base_url + path
        headers = {**self.headers, **kwargs.pop("headers", {})}
        async with self.http.request(method, url, headers=headers, **kwargs) as r:
            return r.status, await r.text()

    async def login(self, username: str, password: str) -> None:
        status, text = await self.request(
            "POST", "/api/v1/auth/token", data={"username": username, "password": password}
        )
        if status != 200:
            raise RuntimeError(f"intake refused a token for {username}: HTTP {status} {text[:200]}")
        self.headers["Authorization"] = f"Bearer {json.loads(text)['access_token']}"

    async def pick_event(self, today: date) -> None:
        status, text = await self.request("GET", "/api/v1/events")
        if status != 200:
            raise RuntimeError(f"intake did not list its events: HTTP {status} {text[:200]}")
        body = json.loads(text)
        events = body if isinstance(body, list) else body.get("items") or body.get("events") or []
        if not events:
            raise RuntimeError("intake lists no consultation events: did the demo data load?")
        event = next((e for e in events if str(e.get("date")) == today.isoformat()), events[0])
        self.event_id = event["event_id"]
        self.venue_id = event.get("venue_id") or ""

    async def submit(self, spec: mix.CaseSpec) -> str:
        status, text = await self.request(
            "POST",
            "/api/v1/cases",
            json=spec.with_event(self.event_id),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if status != 201:
            if len(self.samples) < 3:
                self.samples.append(f"HTTP {status}: {text[:300]}")
            raise Refused(f"HTTP {status}")
        return str(json.loads(text)["case_id"])

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()


def synthetic_case_created(spec: mix.CaseSpec, event_id: str, venue_id: str) -> tuple[str, bytes]:
    """A valid ``case_created`` for routing's input topic, as intake's relay would publish it."""
    from tsunagu.shared.contracts.envelope import Envelope
    from tsunagu.shared.contracts.intake import CaseCreated

    body = spec.body
    case_id = str(uuid.uuid4())
    birth = date.fromisoformat(body["resident"]["birth_date"])
    today = japan_today()
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    data = CaseCreated(
        case_id=case_id,
        case_number=f"B-{spec.index:07d}",
        event_id=event_id,
        venue_id=venue_id or "bench-venue",
        household_id=str(uuid.uuid4()),
        resident_id=str(uuid.uuid4()),
        taken_by=STAFF_USER,
        facts={
            "concerns": body["concerns"],
            "most_pressing": body["most_pressing"],
            "age": age,
            "lives_alone": body["resident"]["lives_alone"],
            "disability_certificate": body["resident"]["disability_certificate"],
            "special_loan_borrower": body["resident"]["special_loan_borrower"],
            "urgent": body["urgent"],
        },
        consent={**body["consent"], "language": body["resident"]["language"]},
        created_at=datetime.now(UTC),
    )
    env = Envelope(event_type="case_created", producer="intake", data=data.model_dump(mode="json"))
    return case_id, env.to_bytes()


def _diagnose(observer: Observer, keys: list[str], stack: Stack) -> str:
    reached = {s: observer.done(keys, s) for s in ("bus", "routed", "referral", "message")}
    dead = [
        f"{n} (exit {p.process.returncode})"
        for n, p in stack.services.items()
        if p.process and p.process.poll() is not None
    ]
    return (
        f"of {len(keys)} warm-up cases, reached: {reached}; delivery statuses seen: "
        f"{dict(observer.delivery_statuses) or 'none'}; services exited: {dead or 'none'}; "
        f"logs in {stack.log_dir}"
    )


async def run_system(ctx: Context) -> dict[str, Any]:
    p = ctx.profile
    result: dict[str, Any] = {
        "what": "the four services as processes (ports 28000-28003), cases through POST /api/v1/cases",
    }
    problems = readiness_problems()
    if problems:
        result["skipped"] = "services not runnable yet: " + "; ".join(problems)
        return result
    stack = Stack(ctx)
    client = Client(f"http://127.0.0.1:{PORTS['intake']}", p.concurrency)
    observer = Observer(ctx.bootstrap, Topics.registry())
    t0 = time.monotonic()
    try:
        await stack.start()
        result["startup_seconds"] = round(time.monotonic() - t0, 1)
        await client.login(STAFF_USER, stack.password)
        await client.pick_event(stack.today)
        await observer.start()

        warm = mix.generate(p.warmup_cases, seed=ctx.seed, start=20_000_000)
        subs = await rate_run(client.submit, warm, rate=min(p.rate, 100))
        got = await observer.wait(subs.keys, END_TO_END, p.drain_timeout)
        if got == 0:
            refusals = f"; refusals: {client.samples}" if client.samples else ""
            raise RuntimeError(
                "no warm-up case reached a staff message: "
                + _diagnose(observer, subs.keys, stack)
                + refusals
            )
        result["warmup"] = {"cases": len(warm), "accepted": len(subs.keys), "delivered": got}

        if p.idle_seconds:
            t_idle = time.perf_counter()
            await asyncio.sleep(p.idle_seconds)
            result["idle"] = {
                "title": f"idle: {p.idle_seconds:g} s with no load (after the warm-up)",
                "seconds": p.idle_seconds,
                "resources": ctx.sampler.window(t_idle, time.perf_counter()),
            }
        if p.light_cases:
            specs = mix.generate(p.light_cases, seed=ctx.seed + 5)
            subs = await rate_run(client.submit, specs, p.light_rate)
            result["light"] = await measure(
                title=f"light load: {len(specs)} cases at {p.light_rate:g}/s (open loop, HTTP)",
                kind="rate", subs=subs, observer=observer, sampler=ctx.sampler, drain_timeout=p.drain_timeout,
            )  # fmt: skip
            try:
                result["light"]["timeline"] = await timeline.collect(
                    ctx.database_url, observer, subs, subs.keys
                )
            except Exception as exc:  # a diagnostic: never fails the run
                result["light"]["timeline"] = {"cases": 0, "error": f"{type(exc).__name__}: {exc}"}
        specs = mix.generate(p.system_rate_cases or p.rate_cases, seed=ctx.seed)
        subs = await rate_run(client.submit, specs, p.rate)
        result["rate"] = await measure(
            title=f"latency run: {len(specs)} cases offered at {p.rate:g}/s (open loop, HTTP)",
            kind="rate", subs=subs, observer=observer, sampler=ctx.sampler, drain_timeout=p.drain_timeout,
        )  # fmt: skip
        specs = mix.generate(p.system_saturation_cases, seed=ctx.seed + 1)
        counted = await _events_so_far(ctx)
        subs = await saturation_run(client.submit, specs, concurrency=p.concurrency)
        result["saturation"] = await measure(
            title=f"saturation run: {len(specs)} cases, {p.concurrency} HTTP submitters (closed loop)",
            kind="saturation", subs=subs, observer=observer, sampler=ctx.sampler, drain_timeout=p.drain_timeout,
        )  # fmt: skip
        after = await _events_so_far(ctx)
        if isinstance(counted, str) or isinstance(after, str):
            why = counted if isinstance(counted, str) else after
            result["saturation"]["events"] = {"cases": 0, "error": why}
        else:
            result["saturation"]["events"] = events.per_case(counted, after, len(subs.keys))
        result["notify_api_check"] = await _notify_check(client, list(subs.keys)[:5])
        if client.samples:
            result["refusal_samples"] = client.samples
        if p.scaling:
            result["scaling"] = await _system_scaling(ctx, stack, client, observer)
        # last: a system that cannot sustain it leaves a backlog behind
        if p.target_rate:
            specs = mix.generate(
                p.system_target_rate_cases or p.target_rate_cases, seed=ctx.seed + 2
            )
            subs = await rate_run(client.submit, specs, p.target_rate)
            run = await measure(
                title=f"target rate: {len(specs)} cases offered at {p.target_rate:g}/s (open loop, HTTP)",
                kind="rate", subs=subs, observer=observer, sampler=ctx.sampler, drain_timeout=p.drain_timeout,
            )  # fmt: skip
            e2e = run["stages"][END_TO_END]
            run["sustained"] = (
                e2e["completed"] == run["offered"]
                and e2e["throughput_per_s"] >= 0.95 * p.target_rate
            )
            result["target_rate"] = run
    finally:
        await observer.stop()
        await client.close()
        await asyncio.to_thread(stack.stop)
    if stack.profiles:
        result["profiles"] = await asyncio.to_thread(stack.render_profiles)
    return result


async def _events_so_far(ctx: Context) -> events.Counts | str:
    """The services' event counts once they settle, or why they could not be counted (a
    diagnostic: it never fails the run)."""
    try:
        return await events.settled(ctx.database_url)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


async def _notify_check(client: Client, case_ids: list[str]) -> dict[str, Any]:
    """``GET {notify}/api/v1/deliveries?case_id=``, where notify offers it (best effort)."""
    out: dict[str, Any] = {"checked": 0, "with_deliveries": 0, "statuses": {}}
    base = f"http://127.0.0.1:{PORTS['notify']}"
    for case_id in case_ids:
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            status, text = await client.request(
                "GET", f"{base}/api/v1/deliveries", params={"case_id": case_id}
            )
            out["statuses"][str(status)] = out["statuses"].get(str(status), 0) + 1
            if status == 200:
                out["checked"] += 1
                body = json.loads(text)
                items = body if isinstance(body, list) else body.get("items", [])
                out["with_deliveries"] += bool(items)
    return out


async def _system_scaling(
    ctx: Context, stack: Stack, client: Client, observer: Observer
) -> dict[str, Any]:
    p = ctx.profile
    out: dict[str, Any] = {}
    runs = []
    for factor in (1, 10):
        specs = mix.generate(p.system_scale_cases * factor, seed=ctx.seed + 10 + factor)
        subs = await saturation_run(client.submit, specs, concurrency=p.concurrency)
        run = await measure(
            title=f"{factor}x: {len(specs)} cases", kind="saturation", subs=subs, observer=observer,
            sampler=ctx.sampler, drain_timeout=p.drain_timeout,
        )  # fmt: skip
        run["completion_seconds"] = completion_seconds(run)
        runs.append(run)
    services = tuple(SERVICES)
    small, large = runs
    for r in (small, large):
        r["resources"] = {k: v for k, v in r["resources"].items() if k.startswith(services)}
    out["cases"] = scale_summary(small, large, "")

    producer = AIOKafkaProducer(
        bootstrap_servers=ctx.bootstrap, client_id="bench-burst", **PRODUCER
    )
    await producer.start()
    try:
        replica: dict[str, Any] = {"stage": "routing (case_created -> case_routed)"}
        one_members = 0
        for n in (1, 2):
            if n == 2:
                await stack.wait_ready([stack.add("routing", EXTRA_ROUTING_PORT, name="routing-2")])
            members = await wait_group_stable(
                ctx.bootstrap, "routing", max(n, one_members * n), limit_s=60
            )
            one_members = one_members or members
            specs = mix.generate(p.system_replica_cases, seed=ctx.seed + 30 + n)
            starts: dict[str, float] = {}
            acks = []
            t_first = time.perf_counter()
            for spec in specs:
                case_id, value = synthetic_case_created(spec, client.event_id, client.venue_id)
                starts[case_id] = time.perf_counter()
                acks.append(await producer.send("intake.case.v1", value, key=case_id.encode()))
            await asyncio.gather(*acks)
            done = await observer.wait(list(starts), "routed", p.drain_timeout)
            last = max((observer.arrival("routed", k) or 0.0) for k in starts)
            replica["one" if n == 1 else "two"] = {
                "cases": len(specs),
                "routed": done,
                "group_members": members,
                "throughput_per_s": round(done / (last - t_first), 1) if last > t_first else 0.0,
            }
        one, two = replica["one"]["throughput_per_s"], replica["two"]["throughput_per_s"]
        replica["speedup"] = round(two / one, 2) if one else None
        out["replicas"] = replica
    finally:
        await producer.stop()
    return out
