"""Events food distribution publishes on ``food.v1``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tsunagu.shared.contracts.codes import ParcelType

ELIGIBILITY_GRANTED = "eligibility_granted"
PARCEL_HANDED_OUT = "parcel_handed_out"
STOCK_LOW = "stock_low"
HOUSEHOLD_LINKED = "household_linked"


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


class HouseholdLinked(_Data):
    """The desk found two households to be one: the moved one now belongs to the joined one.

    Every case of the moved household, its eligibility and its parcels moved into the joined
    household (ADR 20); intake's reports count the two as one household (ADR 33). Keyed by the
    case at the desk, the one that moved. Ids only: never a name or the staff member."""

    case_id: str
    event_id: str
    moved_household_id: str
    joined_household_id: str
    linked_at: datetime
