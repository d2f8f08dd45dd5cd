"""The event envelope every message on the bus is wrapped in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """What travels on Kafka: identity, causality and the event's data.

    ``data`` is validated against the model for ``event_type`` by the consumer
    (see ``tsunagu.shared.contracts.registry``), so an unknown newer field never breaks a reader.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(default_factory=new_id)
    event_type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str = Field(default_factory=new_id)
    causation_id: str | None = None
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)
