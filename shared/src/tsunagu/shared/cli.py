"""The ``tsunagu`` command: serve a service, migrate, create topics, list and replay the DLQ,
make the staff token key pair, write or check the committed AsyncAPI documents."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from typing import Any

from tsunagu.shared.contracts.topics import DLQ_SUFFIX, dlq_topics, partitions_of
from tsunagu.shared.migrations import upgrade
from tsunagu.shared.services import names
from tsunagu.shared.services import service as registered_service
from tsunagu.shared.settings import Settings


def serve(service: str) -> None:
    import uvicorn

    from tsunagu.shared.logs import configure_logging

    settings = Settings(service=service)
    settings.check_production()
    configure_logging(service, settings.log_level)
    bootstrap = importlib.import_module(f"{registered_service(service).package}.bootstrap")
    app = bootstrap.build_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
    )


def migrate(services: list[str], *, require_roles: bool = False) -> None:
    """Migrate each service's schema (as the owner), then grant each service's role its own
    schema (``tsunagu.shared.db_roles``), for the roles that exist."""
    from tsunagu.shared import db_roles

    settings = Settings()
    unknown = set(services) - set(names())
    if unknown:
        raise SystemExit(f"unknown service(s): {', '.join(sorted(unknown))}")
    chosen = services or list(names())
    for service in chosen:
        upgrade(service, settings.database_url)
        print(f"migrated {service}")
    roles = {s: db_roles.service_role(s) for s in chosen}
    found = asyncio.run(db_roles.existing_roles(settings.database_url, list(roles.values())))
    missing = sorted(set(roles.values()) - found)
    if missing and require_roles:
        # On Kubernetes the operator creates them; the Job retries until it has.
        raise SystemExit(f"database roles missing: {', '.join(missing)}")
    for service, role in roles.items():
        if role in found:
            asyncio.run(db_roles.grant(settings.database_url, service, role))
            print(f"granted {role} its schema {service}")


def create_db_roles(password_dir: str) -> None:
    """Create or update ``tsunagu_<service>`` for each file ``<service>`` in ``password_dir``
    holding its password (compose's init job; needs a role that may create roles)."""
    from pathlib import Path

    from tsunagu.shared import db_roles

    settings = Settings()
    for service in names():
        path = Path(password_dir) / f"db_password_{service}"
        if path.exists():
            password = path.read_text(encoding="utf-8").strip()
            role = db_roles.service_role(service)
            asyncio.run(db_roles.ensure_role(settings.database_url, role, password))
            print(f"role {role} ready")


def create_topics(replication: int | None) -> None:
    from tsunagu.shared.kafka_admin import create_topics as create

    settings = Settings()
    created = asyncio.run(
        create(
            settings.kafka_bootstrap,
            replication=replication,
            client_options=settings.kafka_client_options(),
        )
    )
    print(f"created {len(created)} topics" + (f": {', '.join(created)}" if created else ""))


async def _dlq_records(settings: Settings, topics: list[str]) -> list[Any]:
    """Every record on the given dead-letter topics, read from the beginning, not committed."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        **settings.kafka_client_options(),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions_of(t))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        records: list[Any] = []
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=2000)
            for tp, msgs in batch.items():
                records.extend(m for m in msgs if m.offset < end[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
    finally:
        await consumer.stop()


def describe(record: Any) -> dict[str, Any]:
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    return {
        "dlq_topic": record.topic,
        "dlq_offset": record.offset,
        "consumer": headers.get("dlq-consumer"),
        "origin": f"{headers.get('dlq-origin-topic')}/{headers.get('dlq-origin-partition')}"
        f"@{headers.get('dlq-origin-offset')}",
        "error": headers.get("dlq-error"),
        "failed_at": headers.get("dlq-failed-at"),
    }


def dlq_list(topic: str | None) -> list[dict[str, Any]]:
    settings = Settings()
    topics = (
        [topic + ("" if topic.endswith(DLQ_SUFFIX) else DLQ_SUFFIX)]
        if topic
        else list(dlq_topics())
    )
    records = asyncio.run(_dlq_records(settings, topics))
    return [describe(r) for r in records]


async def _replay(settings: Settings, dlq_topic: str, offset: int) -> str:
    from aiokafka import AIOKafkaProducer

    from tsunagu.shared.broker import PRODUCER_OPTIONS

    records = [r for r in await _dlq_records(settings, [dlq_topic]) if r.offset == offset]
    if not records:
        raise SystemExit(f"no message at offset {offset} of {dlq_topic}")
    record = records[0]
    origin = dlq_topic.removesuffix(DLQ_SUFFIX)
    keep = [(k, v) for k, v in record.headers or () if not k.startswith("dlq-")]
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        **PRODUCER_OPTIONS,
        **settings.kafka_client_options(),
    )
    await producer.start()
    try:
        await producer.send_and_wait(origin, record.value, key=record.key, headers=keep)
    finally:
        await producer.stop()
    return origin


def write_keys(directory: str) -> None:
    """A key pair for staff tokens; refuses to overwrite one (that would log everyone out)."""
    import os
    from pathlib import Path

    from tsunagu.shared.auth import generate_keypair

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    private, public = target / "auth_ed25519.pem", target / "auth_ed25519.pub.pem"
    if private.exists() or public.exists():
        sys.exit(f"{private} or {public} exists already; move it away first")
    private_pem, public_pem = generate_keypair()
    # Readable by the image's user (uid 10001) when mounted as a compose secret: 0640 with
    # the group the operator gives it, or 0644 on a host where only root logs in.
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(private_pem)
    public.write_text(public_pem)
    print(f"wrote {private} (intake only) and {public} (every service)")


#: Kafka users of the compose deployment (SASL/PLAIN): the services and the administrator that
#: creates topics and ACLs. Names as on Kubernetes (deploy/k8s/generate_kafka.py).
COMPOSE_KAFKA_USERS = ("admin", "intake", "routing", "notify", "food-distribution")


def write_compose_secrets(directory: str) -> None:
    """Every secret file deploy/compose/compose.yaml mounts, made where missing (never
    overwritten): token keys, contact key, database and Kafka passwords, the broker's JAAS
    file and the administrator's client properties."""
    import os
    import secrets
    from pathlib import Path

    from cryptography.fernet import Fernet

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)

    def put(name: str, text: str) -> str:
        path = target / name
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        print(f"wrote {path}")
        return text.strip()

    if not (target / "auth_ed25519.pem").exists():
        write_keys(directory)
    put("contact_key", Fernet.generate_key().decode() + "\n")
    put("master_key", Fernet.generate_key().decode() + "\n")  # intake's: residents' keys
    credentials = {
        s: put(f"service_credential_{s}", secrets.token_urlsafe(32) + "\n")
        for s in ("intake", "notify", "food_distribution")
    }
    put(
        "service_credentials_intake.json",
        json.dumps({s: c for s, c in credentials.items() if s != "intake"}) + "\n",
    )
    put("service_credentials_of_intake.json", json.dumps({"intake": credentials["intake"]}) + "\n")
    put("db_password", secrets.token_hex(24) + "\n")
    for service in names():
        put(f"db_password_{service}", secrets.token_hex(24) + "\n")
    kafka = {
        u: put(f"kafka_password_{u}", secrets.token_hex(24) + "\n") for u in COMPOSE_KAFKA_USERS
    }
    users = " ".join(f'user_{u}="{p}"' for u, p in kafka.items())
    put(
        "kafka_jaas.conf",
        "KafkaServer {\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n"
        f'  username="admin" password="{kafka["admin"]}" {users};\n}};\n',
    )
    put(
        "kafka_admin.properties",
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{kafka["admin"]}";\n',
    )
    # Compose mounts the files as they are into containers running as other users (the image's
    # 10001, Kafka's 1000): readable files, in a directory only its owner may enter.
    for path in target.iterdir():
        path.chmod(0o644)
    target.chmod(0o700)


def asyncapi_files(root: str, *, check: bool) -> list[str]:
    """Write each installed service's AsyncAPI document (built from the contracts and the topic
    registry) to ``<root>/services/<service>/asyncapi.yaml``; with ``check``, write nothing and
    return the files that are missing or differ from what the code generates."""
    from pathlib import Path

    from tsunagu.shared.asyncapi import to_yaml

    stale: list[str] = []
    for name in names():
        module = importlib.import_module(f"{registered_service(name).package}.asyncapi")
        path = Path(root) / "services" / name / "asyncapi.yaml"
        text = to_yaml(module.document())
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return stale


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tsunagu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run one service (HTTP, consumers, outbox relay)")
    p.add_argument("service", choices=sorted(names()))
    p = sub.add_parser(
        "migrate", help="migrate the services' schemas (all by default), grant their roles"
    )
    p.add_argument("services", nargs="*", help=f"any of {', '.join(sorted(names()))}")
    p.add_argument(
        "--require-roles", action="store_true", help="fail unless every service's role exists"
    )
    p = sub.add_parser("compose-secrets", help="make deploy/compose's secret files (if missing)")
    p.add_argument("directory", nargs="?", default="deploy/compose/secrets")
    p = sub.add_parser("db-roles", help="create the services' database roles")
    p.add_argument("password_dir", help="holds db_password_<service> files")
    p = sub.add_parser("topics", help="create the registry's topics")
    p.add_argument("action", choices=["create"])
    p.add_argument(
        "--replication", type=int, default=None, help="default: the cluster size, at most 3"
    )
    p = sub.add_parser("keys", help="write a new Ed25519 key pair for staff tokens")
    p.add_argument("directory", help="writes auth_ed25519.pem (intake's) and .pub.pem (all)")
    p = sub.add_parser(
        "asyncapi", help="write each service's committed AsyncAPI document (or --check it)"
    )
    p.add_argument("--check", action="store_true", help="fail if one is stale; write nothing")
    p.add_argument("--root", default=".", help="the repository's root (default: here)")
    dlq = sub.add_parser("dlq", help="dead-lettered messages")
    dsub = dlq.add_subparsers(dest="action", required=True)
    p = dsub.add_parser("list", help="list dead-lettered messages with their errors")
    p.add_argument("--topic", help="a consumed topic or its .dlq (default: every DLQ)")
    p.add_argument("--json", action="store_true")
    p = dsub.add_parser("replay", help="re-publish one dead-lettered message to its topic")
    p.add_argument("dlq_topic")
    p.add_argument("offset", type=int)
    args = parser.parse_args(argv)

    if args.command == "serve":
        serve(args.service)
    elif args.command == "migrate":
        migrate(args.services, require_roles=args.require_roles)
    elif args.command == "db-roles":
        create_db_roles(args.password_dir)
    elif args.command == "topics":
        create_topics(args.replication)
    elif args.command == "keys":
        write_keys(args.directory)
    elif args.command == "compose-secrets":
        write_compose_secrets(args.directory)
    elif args.command == "asyncapi":
        stale = asyncapi_files(args.root, check=args.check)
        if stale:
            raise SystemExit(
                "AsyncAPI documents out of date with the contracts or the topic registry: "
                f"{', '.join(stale)}\nregenerate them with: make asyncapi"
            )
    elif args.command == "dlq" and args.action == "list":
        rows = dlq_list(args.topic)
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            for row in rows:
                print(
                    f"{row['dlq_topic']}@{row['dlq_offset']}  {row['consumer']}  "
                    f"from {row['origin']}  {row['failed_at']}\n    {row['error']}"
                )
            print(f"{len(rows)} dead-lettered message(s)")
    elif args.command == "dlq" and args.action == "replay":
        origin = asyncio.run(_replay(Settings(), args.dlq_topic, args.offset))
        print(f"replayed {args.dlq_topic}@{args.offset} to {origin}")


if __name__ == "__main__":
    main(sys.argv[1:])
