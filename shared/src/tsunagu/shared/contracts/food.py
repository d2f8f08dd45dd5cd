"""Events food distribution publishes on ``food.v1``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tsunagu.shared.contracts.codes import ParcelType

ELIGIBILITY_GRANTED = "eligibility_granted"
PARCEL_HANDED_OUT = "parcel_handed_out"
STOCK_LOW = "stock_low"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class EligibilityGranted(_Data):
    case_id: str
    household_id: str
    event_id: str
    basis: Literal["economic_concern", "manual"]
    reason: str
    granted_by: str | None = None


class ParcelHandedOut(_Data):
    handout_id: str
    case_id: str
    household_id: str
    event_id: str
    parcel_type: ParcelType
    handed_out_by: str
    handed_out_at: datetime


class StockLow(_Data):
    """Keyed by event id: it concerns the event's desk, not a case."""

    event_id: str
    venue_id: str
    parcel_type: ParcelType
    remaining: int
    threshold: int
    #: The venue's display name, when intake has named it (added later: optional).
    venue_name: str | None = None
