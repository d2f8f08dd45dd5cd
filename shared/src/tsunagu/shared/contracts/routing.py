"""Events routing publishes: on ``routing.case.v1`` and ``routing.programme.<programme>.v1``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tsunagu.shared.contracts.codes import (
    Concern,
    DeclineReason,
    Programme,
    ReferralOutcome,
    ReferralRole,
    ReferralStatus,
)
from tsunagu.shared.contracts.reasons import Reason, upgrade_reasons

CASE_ROUTED = "case_routed"
REFERRAL_CREATED = "referral_created"
REFERRAL_STATUS_CHANGED = "referral_status_changed"
REFERRAL_ESCALATED = "referral_escalated"
CONSENT_WITHDRAWN = "consent_withdrawn"
CASE_REROUTED = "case_rerouted"

#: The envelope ``schema_version`` of routing's events. 2: every reason is an object
#: ``{code, params}`` (``tsunagu.shared.contracts.reasons``), where 1 had English sentences.
#: Readers of version 2 still read version 1 events (sentences become ``text`` reasons).
SCHEMA_VERSION = 2

#: What programme staff may do to a referral; every referral event names the subset allowed
#: now (``allowed_actions``), decided by routing's lifecycle alone.
StaffAction = Literal["accept", "decline", "start", "close"]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _WithReasons(_Data):
    @field_validator("reasons", mode="before", check_fields=False)
    @classmethod
    def _sentences_of_version_1(cls, value: Any) -> Any:
        return upgrade_reasons(value)


class Referral(_WithReasons):
    referral_id: str
    programme: Programme
    role: ReferralRole
    status: ReferralStatus
    deadline_at: datetime | None = None
    reasons: list[Reason] = Field(default_factory=list)
    #: The responses routing accepts now; ``None`` in events written before it was added.
    allowed_actions: list[StaffAction] | None = None


class ExternalReferral(_WithReasons):
    agency: str
    reasons: list[Reason] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _reason_of_version_1(cls, data: Any) -> Any:
        if isinstance(data, dict) and "reasons" not in data and "reason" in data:
            return {**data, "reasons": upgrade_reasons(data["reason"])}
        return data


class CaseRouted(_Data):
    case_id: str
    case_number: str
    event_id: str
    rule_version: str
    lead: Programme
    coordinator: Programme | None = None
    compound: bool
    urgent: bool
    food_parcel_eligible: bool
    referrals: list[Referral]
    awaiting_consent: list[Programme] = Field(default_factory=list)
    external: list[ExternalReferral] = Field(default_factory=list)


class ReferralCreated(_WithReasons):
    """A programme has received a case; what its team needs to pick it up."""

    case_id: str
    case_number: str
    event_id: str
    referral_id: str
    programme: Programme
    role: ReferralRole
    urgent: bool
    deadline_at: datetime
    #: The concerns this programme needs (see ``concerns_scope``), never necessarily all the
    #: case's: the programme's topic outlives consent and is read by the team's own systems.
    concerns: list[Concern]
    reasons: list[Reason] = Field(default_factory=list)
    allowed_actions: list[StaffAction] | None = None
    #: ``case``: every concern of the case (the lead or coordinator, who follow the whole
    #: case); ``programme``: only those that brought the case to this programme (a member).
    #: Added later: absent in events written before, whose ``concerns`` were the whole case's.
    concerns_scope: Literal["case", "programme"] | None = None


class ReferralStatusChanged(_Data):
    case_id: str
    case_number: str
    referral_id: str
    programme: Programme
    status: ReferralStatus
    previous_status: ReferralStatus
    by: str
    reason: str | None = None
    outcome: str | None = None
    #: The codes of the decline's reason and the close's outcome (optional: free text alone
    #: is still accepted).
    reason_code: DeclineReason | None = None
    outcome_code: ReferralOutcome | None = None
    #: Staff's words, sealed with the resident's ``record`` key, as intake sent them (routing
    #: stores and forwards them, never opens them). Optional, added later.
    reason_sealed: str | None = None
    outcome_sealed: str | None = None
    #: After a decline: the programme routing suggests next, or the coordinator taking over.
    suggested_next: Programme | None = None
    taken_by: str | None = None
    allowed_actions: list[StaffAction] | None = None


class ReferralEscalated(_Data):
    case_id: str
    case_number: str
    referral_id: str
    programme: Programme
    urgent: bool
    deadline_at: datetime
    escalated_at: datetime
    allowed_actions: list[StaffAction] | None = None


class ConsentWithdrawn(_Data):
    case_id: str
    case_number: str
    programme: Programme
    withdrawn_at: datetime


class CaseRerouted(_Data):
    """A corrected case routed again (after ``case_updated``): the decision on the new facts
    and every referral of the case as it now stands.

    ``added`` are the referrals made by this re-routing, ``withdrawn`` those no longer needed
    (status ``withdrawn``); referrals already accepted or in progress are kept.
    """

    case_id: str
    case_number: str
    event_id: str
    rule_version: str
    lead: Programme
    coordinator: Programme | None = None
    compound: bool
    urgent: bool
    food_parcel_eligible: bool
    referrals: list[Referral]
    added: list[str] = Field(default_factory=list)
    withdrawn: list[str] = Field(default_factory=list)
    awaiting_consent: list[Programme] = Field(default_factory=list)
    external: list[ExternalReferral] = Field(default_factory=list)
