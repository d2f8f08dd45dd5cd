"""Settings of the food desk alone (``TSUNAGU_FOOD_`` variables): handout limits, low stock."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tsunagu.food_distribution.domain.handout import HandoutPolicy
from tsunagu.shared.contracts.codes import ParcelType


class FoodConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSUNAGU_FOOD_", extra="ignore")

    #: Parcels per household at one event.
    per_event: int = Field(default=1, ge=1)
    #: If set, a household served at another event fewer than this many days ago is refused.
    min_days_between: int | None = Field(default=None, ge=1)
    #: Below this many parcels of a type at an event, ``stock_low`` is published (once per drop).
    low_stock_threshold: int = Field(default=5, ge=0)
    #: Per-type overrides, e.g. ``TSUNAGU_FOOD_LOW_STOCK_THRESHOLDS='{"infant": 2}'``.
    low_stock_thresholds: dict[ParcelType, int] = Field(default_factory=dict)

    def policy(self) -> HandoutPolicy:
        return HandoutPolicy(per_event=self.per_event, min_days_between=self.min_days_between)

    def threshold(self, parcel_type: ParcelType) -> int:
        return self.low_stock_thresholds.get(parcel_type, self.low_stock_threshold)
