"""What the handlers need besides a session: the outbox writer, the desk's config, the sealer."""

from __future__ import annotations

from dataclasses import dataclass

from tsunagu.food_distribution.config import FoodConfig
from tsunagu.shared.crypto import Sealer
from tsunagu.shared.outbox import OutboxWriter


@dataclass(frozen=True)
class Deps:
    outbox: OutboxWriter
    config: FoodConfig
    sealer: Sealer
