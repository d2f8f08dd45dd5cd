"""The one Kafka broker factory: acks=all, idempotent producer, client id = service name."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from tsunagu.shared.settings import Settings

PRODUCER_OPTIONS: dict[str, object] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "request_timeout_ms": 30_000,
}


def create_broker(settings: Settings) -> KafkaBroker:
    """FastStream broker for the service's consumers (and the DLQ producer)."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=settings.service,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        graceful_timeout=settings.graceful_timeout_seconds,
        logger=None,
    )


def create_producer(settings: Settings) -> AIOKafkaProducer:
    """A bare aiokafka producer with the same guarantees, for the outbox relay."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.service}-relay",
        **PRODUCER_OPTIONS,
    )
