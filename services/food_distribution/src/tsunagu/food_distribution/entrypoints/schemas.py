"""Request and response bodies of the food distribution API (they make /openapi.json)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tsunagu.shared.contracts.codes import ParcelType
from tsunagu.shared.text import NO_CONTROL

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_CONTROL)]
Count = Annotated[int, Field(strict=True, gt=0, le=100_000)]


class _In(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class ReceiptIn(_In):
    event_id: Id
    venue_id: Id
    parcel_type: ParcelType
    quantity: Count
    source: str = Field(
        min_length=1, max_length=200, pattern=NO_CONTROL, description="寄付元 (donor, food bank)"
    )


class TransferIn(_In):
    from_event_id: Id
    to_event_id: Id
    to_venue_id: Id | None = Field(
        default=None, description="Needed when the receiving event is not known yet"
    )
    parcel_type: ParcelType
    quantity: Count


class AdjustmentIn(_In):
    event_id: Id
    parcel_type: ParcelType
    delta: Annotated[int, Field(strict=True, ge=-100_000, le=100_000)] = Field(
        description="Signed change, never 0"
    )
    reason: str = Field(
        min_length=1, max_length=500, pattern=NO_CONTROL, description="棚卸し・破損・期限切れ等"
    )


class HandoutIn(_In):
    case_id: Id
    parcel_type: ParcelType


class GrantIn(_In):
    case_id: Id
    reason: str = Field(min_length=1, max_length=500, pattern=NO_CONTROL)


class HouseholdLinkIn(_In):
    """The case at the desk joins the household of another member, named by the full case
    number on their slip (at the same, today's, event)."""

    case_id: Id
    with_case_number: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)


class HouseholdLinkOut(BaseModel):
    case_id: str
    with_case_id: str
    household_id: str


class StockItem(BaseModel):
    parcel_type: ParcelType
    label: str
    remaining: int
    threshold: int
    low: bool


class StockOut(BaseModel):
    event_id: str
    venue_id: str
    venue_name: str | None = None
    held_on: date
    items: list[StockItem]
    total: int
    as_of: datetime


class TransferOut(BaseModel):
    from_event_id: str
    to_event_id: str
    parcel_type: ParcelType
    from_remaining: int
    to_remaining: int


class HandoutOut(BaseModel):
    handout_id: str
    case_id: str
    case_number: str
    household_id: str
    event_id: str
    parcel_type: ParcelType
    handed_out_by: str
    handed_out_at: datetime
    remaining: int | None = Field(default=None, description="Left of this type just after")


class HouseholdStatus(BaseModel):
    """All the desk sees of a household: no name, address, phone or concerns."""

    case_id: str
    case_number: str
    household_id: str
    event_id: str
    eligible: bool
    basis: str | None
    reason: str | None
    granted_by: str | None
    granted_at: datetime | None
    may_receive: bool
    refusal: dict[str, Any] | None
    received: list[HandoutOut]
    #: Case numbers of the household's other cases at this event (linked at the desk).
    members: list[str] = []


class SearchHit(BaseModel):
    case_id: str
    case_number: str
    name_kana: str | None
    eligible: bool
    served: int


class EventOut(BaseModel):
    event_id: str
    venue_id: str
    venue_name: str | None = None
    held_on: date


class Problem(BaseModel):
    """Error body (every service's one shape): code, message (Japanese), message_en, and the
    refusal's specifics beside them."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str
    message_en: str
