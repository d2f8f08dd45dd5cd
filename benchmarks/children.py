"""Every process the benchmark starts, recorded so that none outlives it.

Each child's pid and command line go to ``var/bench/children.json`` as it starts. At the end of a
run (whatever happened) any recorded child still alive is stopped, SIGTERM then SIGKILL; at the
start of the next run the same is done for the leftovers of a run that was killed outright. A pid
is only signalled while it still carries the recorded command line, so a reused pid is left alone.
"""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

import psutil


class Children:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._known: dict[int, list[str]] = {}

    def track(self, pid: int | None) -> None:
        if not pid:
            return
        with contextlib.suppress(psutil.Error):
            cmdline = psutil.Process(pid).cmdline()
            with self._lock:
                self._known[pid] = cmdline
                self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({str(k): v for k, v in self._known.items()}))

    def stop_all(self, grace: float = 10.0) -> list[int]:
        """Stop every recorded child still alive; returns the pids that had to be stopped."""
        with self._lock:
            known = dict(self._known)
        stopped = _stop(known, grace)
        with self._lock:
            self._known.clear()
            self.path.unlink(missing_ok=True)
        return stopped

    def stop_leftovers(self) -> list[int]:
        """Children of an earlier run that died before it could stop them."""
        try:
            known = {int(k): v for k, v in json.loads(self.path.read_text()).items()}
        except (OSError, ValueError):
            return []
        stopped = _stop(known, 10.0)
        self.path.unlink(missing_ok=True)
        return stopped


def _stop(known: dict[int, list[str]], grace: float) -> list[int]:
    alive = []
    for pid, cmdline in known.items():
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.cmdline() == cmdline and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, still = psutil.wait_procs(alive, timeout=grace)
    for proc in still:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(still, timeout=5)
    return [p.pid for p in alive]
