"""Events intake publishes: on ``intake.case.v1``, ``intake.contact.v1`` (notify's own topic,
ADR 25) and ``intake.referral_response.v1``.

Only what consumers need travels: pseudonymous ids, concern codes, flags, an age (not a birth
date), consent and contact preferences. Names and contact details travel sealed with the
resident's own key (``tsunagu.shared.crypto``, ADR 12): the contact details for notify, the
furigana alone for the food desk. ``resident_erased`` tells every service to forget a case.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tsunagu.shared.contracts.codes import (
    Concern,
    ConsentGivenBy,
    ConsentMethod,
    ContactChannel,
    ContactTime,
    DeclineReason,
    Language,
    Programme,
    ReferralOutcome,
    SharingBasis,
)

CASE_CREATED = "case_created"
CASE_UPDATED = "case_updated"
CONSENT_CHANGED = "consent_changed"
REFERRAL_RESPONSE_SUBMITTED = "referral_response_submitted"
REFERRAL_REQUESTED = "referral_requested"
RESIDENT_ERASED = "resident_erased"
STAFF_SESSIONS_REVOKED = "staff_sessions_revoked"
#: On ``intake.contact.v1`` (with ``resident_erased`` as on ``intake.case.v1``): each the twin
#: of a ``case_created`` / ``consent_changed``, told to notify in fewer words (ADR 25).
CONTACT_CASE_CREATED = "contact_case_created"
CONTACT_CONSENT_CHANGED = "contact_consent_changed"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class UrgentFlags(_Data):
    no_food_today: bool = False
    eviction_within_7_days: bool = False


class CaseFacts(_Data):
    """The facts routing and food distribution decide on."""

    concerns: list[Concern] = Field(min_length=1)
    most_pressing: Concern | None = None
    age: int | None = Field(default=None, ge=0, le=130)
    lives_alone: bool = False
    disability_certificate: bool = False
    special_loan_borrower: bool = False
    urgent: UrgentFlags = UrgentFlags()


class Consent(_Data):
    share_across_programmes: bool
    basis: SharingBasis
    contact_channels: list[ContactChannel] = Field(default_factory=list)
    contact_time: ContactTime = ContactTime.ANY
    language: Language = Language.JA
    #: Someone at home may be a danger to the resident (``dv_abuse``, or staff marked the case
    #: sensitive): the resident is contacted through ``safe_channel`` alone, never by letter,
    #: never at the home address. Added later: optional, so events written before it still read.
    at_risk: bool = False
    #: The one channel staff confirmed is safe (email, sms or phone); ``none`` or absent: there
    #: is no safe contact, and nothing is sent to the resident at all.
    safe_channel: ContactChannel | None = None


class CaseCreated(_Data):
    case_id: str
    case_number: str
    event_id: str
    venue_id: str
    household_id: str
    resident_id: str
    taken_by: str
    facts: CaseFacts
    consent: Consent
    #: Name, furigana, email, phone and address, sealed with the resident's ``contact`` key;
    #: only notify is given that key.
    contact_sealed: str | None = None
    created_at: datetime
    #: The venue's display name, for the desks of other services (added later: optional, so
    #: events written before it still read).
    venue_name: str | None = None
    #: The furigana alone, sealed with the resident's ``kana`` key: what the food desk shows.
    kana_sealed: str | None = None
    #: The event's day. Not always ``created_at``'s: a paper sheet may be typed in on a later
    #: day under an admin's leave. Added later: optional, so events written before it still read.
    event_date: date | None = None


class CaseUpdated(_Data):
    case_id: str
    facts: CaseFacts
    updated_by: str


class SupportMeeting(_Data):
    """The support meeting (支援会議) that took the case: when, and its reference."""

    held_on: date
    reference: str = Field(min_length=1, max_length=100)


class ConsentChanged(_Data):
    case_id: str
    consent: Consent
    previous_basis: SharingBasis
    changed_by: str
    contact_sealed: str | None = None
    # Added later (optional, so earlier events still read): who gave consent and how, for
    # basis ``consent``; the meeting, for basis ``support_meeting``.
    given_by: ConsentGivenBy | None = None
    given_how: ConsentMethod | None = None
    meeting: SupportMeeting | None = None
    #: On a withdrawal: the resident asked to be told it was done. Notify sends that one
    #: confirmation (on the channels they consented to, quiet hours kept) and nothing else.
    #: Added later (optional): absent means no confirmation.
    confirmation_requested: bool = False

    @property
    def withdrawn(self) -> bool:
        return self.consent.basis == SharingBasis.NONE and self.previous_basis != SharingBasis.NONE


ReferralAction = Literal["accept", "decline", "start", "close"]


class ReferralResponseSubmitted(_Data):
    case_id: str
    referral_id: str
    programme: Programme
    action: ReferralAction
    reason: str | None = None
    outcome: str | None = None
    staff: str
    #: The decline's reason and the close's outcome from their code lists (``reason`` and
    #: ``outcome`` stay the free text beside them). Added later: optional.
    reason_code: DeclineReason | None = None
    outcome_code: ReferralOutcome | None = None
    #: Staff's own words beside the codes, sealed with the resident's ``record`` key
    #: (``rk1:...``, ADR 12): erased with the key. Added later (optional); when they are set,
    #: ``reason`` / ``outcome`` carry at most the chosen code's label, never staff's words.
    reason_sealed: str | None = None
    outcome_sealed: str | None = None


class ReferralRequested(_Data):
    """Staff ask routing to refer the case to one more programme: the one routing suggested
    after a decline, or any other. Routing owns referrals: it creates the referral (or does
    nothing if the programme already has one) and tells everyone as for a re-routing."""

    case_id: str
    programme: Programme
    requested_by: str
    #: The declined referral this follows up, when staff took routing's suggestion.
    after_referral_id: str | None = None


class ResidentErased(_Data):
    """A resident was erased (on request or at the end of retention): one event per case.

    Each service deletes or anonymises what it holds of the case, keeps its counts, and from
    now on ignores every event of the case (a replay brings nothing back). The resident's key
    is already destroyed when this is published.
    """

    case_id: str
    resident_id: str
    erased_at: datetime
    #: ``request`` (利用停止・消去請求) or ``retention`` (the retention period ended).
    basis: Literal["request", "retention"]


class ContactCaseCreated(_Data):
    """A new case, as far as notify needs it: whom to reach, how, and who took it in.

    Published on ``intake.contact.v1`` with every ``case_created``, in the same transaction and
    right after it (its ``causation_id`` is that event's id, ADR 25). The contact details stay
    sealed with the resident's ``contact`` key; no concern, age, flag, household or furigana:
    notify reaches the resident, it decides nothing on the facts. Its fields are those of
    ``CaseCreated`` by the same names, so it reads a ``case_created`` too.
    """

    case_id: str
    case_number: str
    taken_by: str
    consent: Consent
    contact_sealed: str | None = None
    created_at: datetime


class ContactConsentChanged(_Data):
    """Consent, contact preferences or the sealed contact changed: notify stops or resumes
    contact, and confirms a withdrawal when the resident asked for it.

    The twin of ``consent_changed`` on ``intake.contact.v1`` (ADR 25); who gave consent and
    how, the meeting and the staff member stay on ``intake.case.v1``. Reads a
    ``consent_changed`` too (its fields by the same names).
    """

    case_id: str
    consent: Consent
    previous_basis: SharingBasis
    contact_sealed: str | None = None
    confirmation_requested: bool = False

    @property
    def withdrawn(self) -> bool:
        return self.consent.basis == SharingBasis.NONE and self.previous_basis != SharingBasis.NONE


#: The twin on ``intake.contact.v1`` of each event type on ``intake.case.v1`` notify needs: its
#: event type and model (``resident_erased`` is told unchanged). ``case_updated`` has none.
CONTACT_TWINS: dict[str, tuple[str, type[BaseModel]]] = {
    CASE_CREATED: (CONTACT_CASE_CREATED, ContactCaseCreated),
    CONSENT_CHANGED: (CONTACT_CONSENT_CHANGED, ContactConsentChanged),
    RESIDENT_ERASED: (RESIDENT_ERASED, ResidentErased),
}


class StaffSessionsRevoked(_Data):
    """Staff tokens that no service may accept any more (on ``intake.staff.v1``).

    Either one sign-in (``session_id``: the person logged out) or every sign-in of the staff
    member issued before ``version`` (deactivated, roles or password changed). ``expires_at``
    is when the last such token expires anyway, after which the record may be forgotten.
    """

    username: str = Field(min_length=1, max_length=64)
    session_id: str | None = Field(default=None, max_length=64)
    version: int | None = Field(default=None, ge=0)
    expires_at: datetime
