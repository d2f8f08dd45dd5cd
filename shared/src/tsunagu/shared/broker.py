"""The one Kafka broker factory: acks=all, idempotent producer, client id = service name."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from tsunagu.shared.settings import Settings

PRODUCER_OPTIONS: dict[str, object] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "request_timeout_ms": 30_000,
}


def broker_security(settings: Settings) -> BaseSecurity | None:
    """FastStream's form of the same connection options (TLS, SASL/SCRAM)."""
    options = settings.kafka_client_options()
    ssl_context = options.get("ssl_context")
    mechanism = options.get("sasl_mechanism")
    if mechanism is None:
        return BaseSecurity(ssl_context=ssl_context) if ssl_context else None  # type: ignore[arg-type]
    kinds = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kinds[str(mechanism)](
        username=str(options["sasl_plain_username"]),
        password=str(options["sasl_plain_password"]),
        ssl_context=ssl_context,  # type: ignore[arg-type]
        use_ssl=settings.kafka_security_protocol == "SASL_SSL",
    )


def create_broker(settings: Settings) -> KafkaBroker:
    """FastStream broker for the service's consumers (and the DLQ producer)."""
    return KafkaBroker(
        # A list: FastStream would take "a:9092,b:9092" for one host (aiokafka splits a string).
        bootstrap_servers(settings.kafka_bootstrap),
        security=broker_security(settings),
        # Topics come from the registry (launcher, compose job, Strimzi), never from a subscriber.
        allow_auto_create_topics=False,
        client_id=settings.service,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        graceful_timeout=settings.graceful_timeout_seconds,
        logger=None,
    )


def bootstrap_servers(bootstrap: str) -> list[str]:
    """``TSUNAGU_KAFKA_BOOTSTRAP`` may name several brokers, comma-separated."""
    return [server.strip() for server in bootstrap.split(",") if server.strip()]


def create_producer(settings: Settings) -> AIOKafkaProducer:
    """A bare aiokafka producer with the same guarantees, for the outbox relay.

    It does not linger: the relay hands a whole batch of rows to the producer before it waits
    for any acknowledgement, so the batch is complete when the producer's sender first looks at
    it, and lingering would only hold every hop back by ``linger_ms`` (ADR 23)."""
    options = {**PRODUCER_OPTIONS, "linger_ms": 0}
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.service}-relay",
        **options,
        **settings.kafka_client_options(),
    )
