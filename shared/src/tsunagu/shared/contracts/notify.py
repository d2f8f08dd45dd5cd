"""Events notify publishes on ``notify.delivery.v1``: every attempt, never the message itself."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

DELIVERY_ATTEMPTED = "delivery_attempted"

DeliveryStatus = Literal[
    "sent", "scheduled", "transient_failure", "permanent_failure", "suppressed"
]


class DeliveryAttempted(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    delivery_id: str
    case_id: str | None = None
    dedup_key: str
    recipient_kind: str
    channel: str
    template: str
    status: DeliveryStatus
    attempt: int
    error: str | None = None
    at: datetime
