"""CPU and memory per process, sampled with psutil in a background thread.

Targets are named processes (a service, a floor hop, Kafka, the driver) or process groups
(PostgreSQL: the postmaster and its backends). CPU is the change in CPU seconds over wall
seconds (100 % = one core); for a group, the postmaster's reaped children count too, so short
backends are not lost. Memory is RSS; for a group, private RSS summed plus the largest shared
part once (every backend maps the same shared buffers).
"""

from __future__ import annotations

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
