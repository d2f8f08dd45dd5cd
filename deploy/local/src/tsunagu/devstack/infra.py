"""Choosing the infrastructure: given endpoints, else testcontainers, else the local launcher."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsunagu.devstack.kafka import KafkaCluster, KafkaServer
from tsunagu.devstack.postgres import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[5]


@dataclass
class Infra:
    """Where Kafka and PostgreSQL answer, and who started them."""

    kafka_bootstrap: str
    database_url: str
    source: str
    kafka: KafkaServer | KafkaCluster | None = None
    postgres: PostgresServer | None = None
    _containers: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()
        for container in self._containers:
            container.stop()


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def _from_testcontainers() -> Infra:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft()
    postgres = PostgresContainer("postgres:18", driver="asyncpg")
    kafka.start()
    postgres.start()
    return Infra(
        kafka_bootstrap=kafka.get_bootstrap_server(),
        database_url=postgres.get_connection_url(),
        source="testcontainers",
        _containers=[kafka, postgres],
    )


def start_infra(
    data_dir: Path,
    *,
    kafka_port: int,
    postgres_port: int,
    durable: bool,
    allow_containers: bool = True,
    fresh: bool = False,
    kafka_brokers: int | None = None,
) -> Infra:
    """Endpoints from TSUNAGU_KAFKA_BOOTSTRAP / TSUNAGU_DATABASE_URL are used as they are; the
    rest is started here: by testcontainers where a Docker engine answers, else the launcher.

    ``kafka_brokers`` (default ``TSUNAGU_KAFKA_BROKERS``, else 1): 3 runs Kafka as a cluster of
    three KRaft nodes on ``kafka_port`` .. ``kafka_port + 5`` with the production manifests'
    replication (``KafkaCluster``); the launcher is then used even where Docker answers."""
    brokers = kafka_brokers or int(os.environ.get("TSUNAGU_KAFKA_BROKERS", "1") or "1")
    kafka_env = os.environ.get("TSUNAGU_KAFKA_BOOTSTRAP")
    db_env = os.environ.get("TSUNAGU_DATABASE_URL")
    if kafka_env and db_env:
        return Infra(kafka_bootstrap=kafka_env, database_url=db_env, source="environment")
    if allow_containers and brokers == 1 and not kafka_env and not db_env and docker_answers():
        return _from_testcontainers()
    if fresh and data_dir.exists():
        # Leftovers of a session that died: stop its servers before wiping their data.
        KafkaServer(data_dir / "kafka", port=kafka_port).stop()
        if (data_dir / "kafka" / "cluster.id").exists():
            KafkaCluster(data_dir / "kafka", port=kafka_port).stop()
        PostgresServer(data_dir / "postgres", port=postgres_port).stop("immediate")
        shutil.rmtree(data_dir)
    infra = Infra(kafka_bootstrap=kafka_env or "", database_url=db_env or "", source="launcher")
    if not db_env:
        infra.postgres = PostgresServer(data_dir / "postgres", port=postgres_port, durable=durable)
        infra.postgres.start()
        infra.database_url = infra.postgres.url
    if not kafka_env:
        infra.kafka = (
            KafkaCluster(data_dir / "kafka", port=kafka_port, size=brokers)
            if brokers > 1
            else KafkaServer(data_dir / "kafka", port=kafka_port, controller_port=kafka_port + 1)
        )
        infra.kafka.start()
        infra.kafka_bootstrap = infra.kafka.bootstrap
    return infra


def with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


async def create_database(server_url: str, database: str, *, drop: bool = False) -> str:
    """Create ``database`` on the server (if missing) and return its URL."""
    import asyncpg

    from tsunagu.shared.db import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(with_database(server_url, "postgres")))
    try:
        if drop:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return with_database(server_url, database)


async def drop_database(server_url: str, database: str) -> None:
    import asyncpg

    from tsunagu.shared.db import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(with_database(server_url, "postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()
