"""Which data model each event type carries, so consumers validate what they read."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from tsunagu.shared.contracts import food, intake, notify, routing
from tsunagu.shared.contracts.envelope import Envelope

EVENT_MODELS: dict[str, type[BaseModel]] = {
    intake.CASE_CREATED: intake.CaseCreated,
    intake.CASE_UPDATED: intake.CaseUpdated,
    intake.CONSENT_CHANGED: intake.ConsentChanged,
    intake.REFERRAL_RESPONSE_SUBMITTED: intake.ReferralResponseSubmitted,
    intake.REFERRAL_REQUESTED: intake.ReferralRequested,
    intake.RESIDENT_ERASED: intake.ResidentErased,
    intake.STAFF_SESSIONS_REVOKED: intake.StaffSessionsRevoked,
    intake.CONTACT_CASE_CREATED: intake.ContactCaseCreated,
    intake.CONTACT_CONSENT_CHANGED: intake.ContactConsentChanged,
    routing.CASE_ROUTED: routing.CaseRouted,
    routing.REFERRAL_CREATED: routing.ReferralCreated,
    routing.REFERRAL_STATUS_CHANGED: routing.ReferralStatusChanged,
    routing.REFERRAL_ESCALATED: routing.ReferralEscalated,
    routing.CONSENT_WITHDRAWN: routing.ConsentWithdrawn,
    routing.CASE_REROUTED: routing.CaseRerouted,
    routing.FOOD_CASE_ROUTED: routing.FoodCaseRouted,
    routing.FOOD_CASE_REROUTED: routing.FoodCaseRerouted,
    routing.FOOD_CONSENT_WITHDRAWN: routing.FoodConsentWithdrawn,
    routing.NOTIFY_CASE_ROUTED: routing.NotifyCaseRouted,
    routing.NOTIFY_CASE_REROUTED: routing.NotifyCaseRerouted,
    routing.NOTIFY_REFERRAL_STATUS_CHANGED: routing.NotifyReferralStatusChanged,
    food.ELIGIBILITY_GRANTED: food.EligibilityGranted,
    food.PARCEL_HANDED_OUT: food.ParcelHandedOut,
    food.STOCK_LOW: food.StockLow,
    food.HOUSEHOLD_LINKED: food.HouseholdLinked,
    notify.DELIVERY_ATTEMPTED: notify.DeliveryAttempted,
}


def schema_version_of(event_type: str) -> int:
    """The envelope ``schema_version`` the producer of ``event_type`` writes."""
    return routing.SCHEMA_VERSION if EVENT_MODELS[event_type].__module__ == routing.__name__ else 1


T = TypeVar("T", bound=BaseModel)


def parse(envelope: Envelope, model: type[T]) -> T:
    """Validate an envelope's data; a ``ValidationError`` sends the message to the DLQ."""
    return model.model_validate(envelope.data)
