"""Events routing publishes: on ``routing.case.v1``, ``routing.programme.<programme>.v1``,
``routing.food.v1`` (the food desk's own topic, ADR 24) and ``routing.notify.v1`` (notify's own
topic, ADR 25)."""

from __future__ import annotations

from datetime import date, datetime
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
#: On ``routing.food.v1`` (with ``resident_erased`` forwarded as intake published it).
FOOD_CASE_ROUTED = "food_case_routed"
FOOD_CASE_REROUTED = "food_case_rerouted"
FOOD_CONSENT_WITHDRAWN = "food_consent_withdrawn"
#: On ``routing.notify.v1`` (with ``referral_escalated`` as on ``routing.case.v1``): each the
#: twin of an event on ``routing.case.v1``, told to notify without reasons (ADR 25).
NOTIFY_CASE_ROUTED = "notify_case_routed"
NOTIFY_CASE_REROUTED = "notify_case_rerouted"
NOTIFY_REFERRAL_STATUS_CHANGED = "notify_referral_status_changed"

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


class FoodCaseRouted(_Data):
    """A new case, as far as the food desk needs it: the household and event, and rule 9.

    Published on ``routing.food.v1`` with ``case_routed``. The household, event, venue and
    furigana are intake's, passed on as intake sent them: the furigana stays sealed with the
    resident's ``kana`` key, which routing is never given (it forwards it unopened). Eligibility
    is routing's decision under rule 9 (``rule_version``). No concern, reason, age or flag:
    food needs to know that a parcel is due, not why.
    """

    case_id: str
    case_number: str
    event_id: str
    venue_id: str
    #: The venue's display name, when intake named it.
    venue_name: str | None = None
    household_id: str
    #: When intake took the case in.
    created_at: datetime
    #: The event's day, as intake sent it (for an event food has not heard of yet). Absent from
    #: events written before it was added: food then takes ``created_at``'s day.
    event_date: date | None = None
    #: The furigana alone, sealed with the resident's ``kana`` key (intake's, unopened).
    kana_sealed: str | None = None
    food_parcel_eligible: bool
    rule_version: str


class FoodCaseRerouted(_Data):
    """A corrected case routing finds eligible for a parcel (rule 9 on the new facts).

    Published on ``routing.food.v1`` with ``case_rerouted`` only when the case is eligible: a
    grant is never taken back by a correction, so a "no" gives food nothing to do."""

    case_id: str
    food_parcel_eligible: bool
    rule_version: str


class FoodConsentWithdrawn(_Data):
    """The resident withdrew consent: the food desk keeps only what a handout recorded.

    Published on ``routing.food.v1`` when routing applies intake's withdrawal (routing drops
    one older than the consent it holds, so a replay never withdraws again what a later
    consent gave)."""

    case_id: str
    withdrawn_at: datetime


class NotifyReferral(_Data):
    """A referral as notify needs it: which programme holds the case, in what role and status,
    and by when it answers. No reason."""

    referral_id: str
    programme: Programme
    role: ReferralRole
    status: ReferralStatus
    deadline_at: datetime | None = None


class NotifyCaseRouted(_Data):
    """A case routed, as far as notify needs it (ADR 25): the lead programme and its deadline
    for the resident's acknowledgement, the coordinator told of declines and closures, and who
    holds the case (the access rule of notify's lists).

    The twin of ``case_routed`` on ``routing.notify.v1``, in the same transaction and right
    after it (its ``causation_id`` is that event's id). No reason, external agency, urgency,
    eligibility or awaiting consent: they are derived from the concerns and notify needs none.
    Its fields are those of ``CaseRouted`` by the same names, so it reads a ``case_routed`` too.
    """

    case_id: str
    case_number: str
    lead: Programme
    coordinator: Programme | None = None
    referrals: list[NotifyReferral]


class NotifyCaseRerouted(_Data):
    """A corrected case routed again: who holds it now and its coordinator (the twin of
    ``case_rerouted``, without reasons). Notify plans nothing on it."""

    case_id: str
    case_number: str
    lead: Programme
    coordinator: Programme | None = None
    referrals: list[NotifyReferral]


class NotifyReferralStatusChanged(_Data):
    """A referral's status changed: declines and closures told to intake staff and the
    coordinator, an acceptance to the resident, a withdrawal cancels the team's messages.

    The twin of ``referral_status_changed`` without staff's reason or outcome (codes, labels or
    sealed words) and without who acted: the message only points to the case page."""

    case_id: str
    case_number: str
    referral_id: str
    programme: Programme
    status: ReferralStatus
    #: After a decline: the programme routing suggests next.
    suggested_next: Programme | None = None


#: The twin on ``routing.notify.v1`` of every event type on ``routing.case.v1``: its event type
#: and model (``referral_escalated`` carries no reason and is told unchanged).
NOTIFY_TWINS: dict[str, tuple[str, type[BaseModel]]] = {
    CASE_ROUTED: (NOTIFY_CASE_ROUTED, NotifyCaseRouted),
    CASE_REROUTED: (NOTIFY_CASE_REROUTED, NotifyCaseRerouted),
    REFERRAL_STATUS_CHANGED: (NOTIFY_REFERRAL_STATUS_CHANGED, NotifyReferralStatusChanged),
    REFERRAL_ESCALATED: (REFERRAL_ESCALATED, ReferralEscalated),
}
