"""``make up`` / ``make down``: the whole system on this machine, on real Kafka and PostgreSQL.

up:   start Kafka and PostgreSQL (or use TSUNAGU_KAFKA_BOOTSTRAP / TSUNAGU_DATABASE_URL), create
      the topics, migrate every service, load demo data, start the four services as separate
      processes, print what to open; Ctrl-C stops everything.
down: stop what a running ``up`` started (from another terminal).
jars: fetch the Apache Kafka jars with Maven into the cache, if not there yet (``make test``
      does this before pytest starts, so the download is seen, not captured).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from tsunagu.devstack.infra import REPO_ROOT, Infra, create_database, start_infra
from tsunagu.devstack.keys import key_env
from tsunagu.devstack.processes import SERVICES, ServiceProcess
from tsunagu.devstack.roles import create_service_roles

DEV_DIR = REPO_ROOT / "var" / "dev"
KEYS_DIR = DEV_DIR / "keys"
PID_FILE = DEV_DIR / "up.pid"
DEV_KAFKA_PORT = 9092
DEV_POSTGRES_PORT = 5432


def say(message: str) -> None:
    print(f"[tsunagu] {message}", flush=True)


def _dev_env(infra: Infra, database_url: str) -> dict[str, str]:
    env = {
        # The explicit local development mode: the services refuse development keys otherwise.
        "TSUNAGU_ENV": os.environ.get("TSUNAGU_ENV", "dev"),
        "TSUNAGU_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "TSUNAGU_DATABASE_URL": database_url,
    }
    return env


def _demo_totp_secret() -> str:
    """The demo admin's TOTP key, kept under var/dev so an authenticator app keeps working."""
    path = KEYS_DIR / "demo_admin_totp"
    if not path.exists():
        KEYS_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(base64.b32encode(secrets.token_bytes(20)).decode())
    return path.read_text().strip()


def up() -> int:
    DEV_DIR.mkdir(parents=True, exist_ok=True)
    if PID_FILE.exists() and _alive(int(PID_FILE.read_text() or 0)):
        say(f"already running (pid {PID_FILE.read_text()}); `make down` stops it")
        return 1
    PID_FILE.write_text(str(os.getpid()))
    t0 = time.monotonic()
    say("starting Kafka and PostgreSQL (the first run fetches the Kafka jars with Maven) ...")
    infra = start_infra(
        DEV_DIR,
        kafka_port=int(os.environ.get("TSUNAGU_DEV_KAFKA_PORT", DEV_KAFKA_PORT)),
        postgres_port=int(os.environ.get("TSUNAGU_DEV_POSTGRES_PORT", DEV_POSTGRES_PORT)),
        durable=True,
        allow_containers=False,
    )
    say(f"infrastructure ({infra.source}): Kafka {infra.kafka_bootstrap}")
    database_url = infra.database_url
    if infra.source == "launcher":
        database_url = asyncio.run(create_database(infra.database_url, "tsunagu"))
    env = {**os.environ, **_dev_env(infra, database_url)}

    def run(*args: str) -> None:
        subprocess.run([sys.executable, "-m", *args], env=env, check=True)

    say("creating topics ...")
    run("tsunagu.shared.cli", "topics", "create")
    say("creating a database role per service ...")
    role_urls = asyncio.run(create_service_roles(database_url))
    say("migrating every service (and granting each role its schema) ...")
    run("tsunagu.shared.cli", "migrate", "--require-roles")
    say("loading demo data (venues, today's events, demo staff, parcel stock) ...")
    env["TSUNAGU_DEMO_TOTP_SECRET"] = _demo_totp_secret()
    run("tsunagu.intake.demo")
    todays = subprocess.run(
        [sys.executable, "-m", "tsunagu.intake.demo", "--todays-events"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    run("tsunagu.food_distribution.demo", *todays)

    procs = [
        ServiceProcess(
            s,
            {
                **_dev_env(infra, database_url),
                **key_env(s, KEYS_DIR),
                # Each service connects as its own role, which sees only its schema.
                "TSUNAGU_DATABASE_URL": role_urls[s],
            },
            DEV_DIR / "logs",
        )
        for s in SERVICES
    ]
    for p in procs:
        p.start()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for p in procs:
            say(f"waiting for {p.service} ...")
            p.wait_ready(120)
        password = os.environ.get("TSUNAGU_DEMO_PASSWORD", "tsunagu-demo")
        say(f"ready in {time.monotonic() - t0:.0f}s")
        print(
            f"""
  Intake (staff UI)      http://127.0.0.1:8000       log in as uketsuke / {password}
  Programme inboxes      http://127.0.0.1:8000/inbox  e.g. csw_participation / {password}
  Routing API            http://127.0.0.1:8001/docs   (AsyncAPI: /asyncapi.yaml)
  Notify: sent mail      http://127.0.0.1:8002/dev/mail
  Food desk              http://127.0.0.1:8003/desk   food / {password}
  Admin                  http://127.0.0.1:8000/admin  admin / {password}
  Logs                   {DEV_DIR / "logs"}

  Ctrl-C (or `make down` elsewhere) stops everything; data stays in {DEV_DIR}.
""",
            flush=True,
        )
        while not stopping:
            for p in procs:
                if p.process is not None and p.process.poll() is not None:
                    say(f"{p.service} exited ({p.process.returncode}); restarting")
                    p.start()
            time.sleep(1)
    finally:
        say("stopping services ...")
        for p in procs:
            p.stop()
        say("stopping Kafka and PostgreSQL ...")
        infra.stop()
        PID_FILE.unlink(missing_ok=True)
        say("stopped")
    return 0


def down() -> int:
    if not PID_FILE.exists():
        say("not running")
        return 0
    pid = int(PID_FILE.read_text() or 0)
    if not _alive(pid):
        PID_FILE.unlink(missing_ok=True)
        say("not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    for _ in range(600):
        if not _alive(pid):
            say("stopped")
            return 0
        time.sleep(0.1)
    say(f"still stopping (pid {pid})")
    return 1


def jars() -> int:
    from tsunagu.devstack.kafka import ensure_jars

    ensure_jars(log=say)
    return 0


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return Path(f"/proc/{pid}").exists()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tsunagu.devstack", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "jars"])
    args = parser.parse_args()
    return {"up": up, "down": down, "jars": jars}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
