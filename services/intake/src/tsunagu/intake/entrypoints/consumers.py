"""Which events intake consumes, and the handlers that fill its read model."""

from __future__ import annotations

from tsunagu.intake.service_layer.read_model import FOOD_HANDLERS, ROUTING_HANDLERS
from tsunagu.shared.contracts.topics import FOOD, ROUTING_CASE
from tsunagu.shared.runtime import ServiceRuntime


def register(runtime: ServiceRuntime, *, consumer: str | None = None) -> None:
    """Routing's decisions and status changes, and food's eligibility and handouts."""
    runtime.consume([ROUTING_CASE.name], ROUTING_HANDLERS, consumer=consumer)
    runtime.consume([FOOD.name], FOOD_HANDLERS, consumer=consumer)
