"""CPU and memory per process, sampled with psutil in a background thread.

Targets are named processes (a service, a floor hop, Kafka, the driver) or process groups
(PostgreSQL: the postmaster and its backends). CPU is the change in CPU seconds over wall
seconds (100 % = one core); for a group, the postmaster's reaped children count too, so short
backends are not lost. Memory is RSS; for a group, private RSS summed plus the largest shared
part once (every backend maps the same shared buffers).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil


@dataclass
class _Target:
    name: str
    pid: int
    group: bool = False
    proc: psutil.Process | None = None
    children: dict[int, psutil.Process] = field(default_factory=dict)

    def sample(self) -> tuple[float, int] | None:
        try:
            if self.proc is None:
                self.proc = psutil.Process(self.pid)
            with self.proc.oneshot():
                ct = self.proc.cpu_times()
                mem = self.proc.memory_info()
            cpu = ct.user + ct.system
            if not self.group:
                return cpu, mem.rss
            cpu += ct.children_user + ct.children_system
            private, shared_max = mem.rss - mem.shared, mem.shared
            live: dict[int, psutil.Process] = {}
            for child in self.proc.children(recursive=False):
                child = self.children.get(child.pid, child)
                try:
                    with child.oneshot():
                        cct = child.cpu_times()
                        cmem = child.memory_info()
                except psutil.Error:
                    continue
                live[child.pid] = child
                cpu += cct.user + cct.system
                private += cmem.rss - cmem.shared
                shared_max = max(shared_max, cmem.shared)
            self.children = live
            return cpu, private + shared_max
        except psutil.Error:
            return None


class ResourceSampler:
    """``add`` targets, ``start``; ``window(t0, t1)`` gives per-process figures for a phase."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        #: What the database connections wait on, when the runner attached a sampler.
        self.db: DbWaitSampler | None = None
        #: Consumer-group lag (benchmarks.observe.LagSampler), when the runner attached one.
        self.lag: Any = None
        self._targets: dict[str, _Target] = {}
        self._samples: list[tuple[float, dict[str, tuple[float, int]]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, pid: int | None, *, group: bool = False) -> None:
        if pid:
            with self._lock:
                self._targets[name] = _Target(name, pid, group)

    def remove(self, name: str) -> None:
        with self._lock:
            self._targets.pop(name, None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def sample_now(self) -> None:
        now = time.perf_counter()
        with self._lock:
            targets = list(self._targets.values())
        row = {t.name: s for t in targets if (s := t.sample()) is not None}
        with self._lock:
            self._samples.append((now, row))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample_now()
            self._stop.wait(self.interval)

    def window(self, t0: float, t1: float) -> dict[str, dict[str, Any]]:
        """CPU % (mean over the window, highest between two samples) and RSS MiB (mean, max)."""
        self.sample_now()
        with self._lock:
            rows = [
                (t, r) for t, r in self._samples if t0 - self.interval <= t <= t1 + self.interval
            ]
        names = sorted({n for _, r in rows for n in r})
        out: dict[str, dict[str, Any]] = {}
        for name in names:
            series = [(t, r[name]) for t, r in rows if name in r]
            if not series:
                continue
            rss = [s[1] for _, s in series]
            cpu_peaks = [
                (b[0] - a[0]) / (tb - ta) * 100
                for (ta, a), (tb, b) in itertools.pairwise(series)
                if tb > ta
            ]
            span = series[-1][0] - series[0][0]
            cpu_mean = (series[-1][1][0] - series[0][1][0]) / span * 100 if span > 0 else 0.0
            out[name] = {
                "cpu_pct_mean": round(max(cpu_mean, 0.0), 1),
                "cpu_pct_max": round(max(cpu_peaks, default=0.0), 1),
                "cpu_seconds": round(series[-1][1][0] - series[0][1][0], 2),
                "rss_mib_mean": round(sum(rss) / len(rss) / 2**20, 1),
                "rss_mib_max": round(max(rss) / 2**20, 1),
            }
        return out


_DEADLOCKS = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"

_ACTIVITY = """
SELECT state, wait_event_type, wait_event, application_name,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND backend_type = 'client backend'
"""


class DbWaitSampler:
    """What the run's database connections are doing, sampled from ``pg_stat_activity``.

    ``window(t0, t1)`` gives the mean number of connections per state (``active``,
    ``idle in transaction``, ``waiting: Lock/transactionid`` ...), the statements most often
    waiting on a lock (where many connections queue behind one row, throughput is serialised),
    and the deadlocks PostgreSQL counted in the database meanwhile (``pg_stat_database``; a
    backend reports them within a second or so of its transaction, so the last ones of a window
    may be counted in the next).
    """

    def __init__(self, dsn: str, interval: float = 0.25) -> None:
        self.dsn = dsn
        self.interval = interval
        self._samples: list[tuple[float, list[tuple[str, str]]]] = []
        self._deadlocks: list[tuple[float, int]] = []
        self._task: Any = None
        self._conn: Any = None

    async def start(self) -> None:
        import asyncio

        import asyncpg

        self._conn = await asyncpg.connect(self.dsn)
        self._task = asyncio.create_task(self._run(), name="bench-db-waits")

    async def stop(self) -> None:
        import asyncio
        import contextlib

        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def _run(self) -> None:
        import asyncio

        while True:
            try:
                rows = await self._conn.fetch(_ACTIVITY)
            except Exception:
                rows = []
            sample = []
            for r in rows:
                if r["wait_event_type"] in ("Lock", "LWLock", "IO"):
                    state = f"waiting: {r['wait_event_type']}/{r['wait_event']}"
                else:
                    state = r["state"] or "unknown"
                if state != "idle" and r["application_name"]:
                    state += f" ({r['application_name']})"  # the service (db.create_engine)
                sample.append((state, r["query"] or ""))
            now = time.perf_counter()
            self._samples.append((now, sample))
            with contextlib.suppress(Exception):
                self._deadlocks.append((now, int(await self._conn.fetchval(_DEADLOCKS) or 0)))
            await asyncio.sleep(self.interval)

    def window(self, t0: float, t1: float) -> dict[str, Any]:
        rows = [s for t, s in self._samples if t0 <= t <= t1]
        if not rows:
            return {}
        n = len(rows)
        states: dict[str, float] = {}
        lock_queries: dict[str, float] = {}
        for sample in rows:
            for state, query in sample:
                states[state] = states.get(state, 0) + 1 / n
                if state.startswith("waiting: Lock"):
                    lock_queries[query] = lock_queries.get(query, 0) + 1 / n
        top = sorted(lock_queries.items(), key=lambda kv: -kv[1])[:3]
        counted = [d for t, d in self._deadlocks if t0 <= t <= t1]
        return {
            "deadlocks": counted[-1] - counted[0] if counted else None,
            "samples": n,
            "mean_connections": {
                k: round(v, 2) for k, v in sorted(states.items(), key=lambda kv: -kv[1])
            },
            "lock_waits": [{"query": q, "mean_waiting": round(v, 2)} for q, v in top],
        }
