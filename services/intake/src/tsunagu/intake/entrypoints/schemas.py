"""The API's request and response bodies beyond ``CaseInput`` (which lives in the domain)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from tsunagu.intake.domain import intake_day
from tsunagu.shared.contracts.codes import (
    Concern,
    ConsentGivenBy,
    ConsentMethod,
    ContactChannel,
    DeclineReason,
    Programme,
    ReferralOutcome,
    SharingBasis,
    StaffRole,
)
from tsunagu.shared.contracts.intake import ReferralAction
from tsunagu.shared.contracts.reasons import Reason, upgrade_reasons

BoardStatus = Literal["waiting", "in_consultation", "done"]

#: Ids in paths and queries: letters, digits, "-" and "_" (uuids, event ids like 20250601-aeon).
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

#: When a case kept on a device while the network was down was taken (ADR 32).
TAKEN_AT_HEADER = "X-Tsunagu-Taken-At"
TAKEN_AT_DESCRIPTION = (
    "For a case kept on the device while the network was down: when it was taken there, "
    "RFC 3339 with an offset (e.g. 2026-12-05T16:02:00+09:00). A case for an event not held "
    "today is taken in when this moment falls on the event's day in Tokyo, is not in the "
    f"future ({intake_day.CLOCK_SKEW.seconds // 60} minutes of clock skew allowed) and is at "
    f"most {intake_day.OFFLINE_WINDOW // timedelta(hours=1)} hours old; the audit entry "
    "records it (`taken_offline_at`). Otherwise the event's day decides as without it "
    "(422 `event_not_today`, its message says why). Not part of what an Idempotency-Key is "
    "bound to: a retry with the same key gets the same case."
)


def _in_utc(value: datetime) -> datetime:
    """A time taken, told in UTC; one that cannot be (beyond the years 1-9999) is refused."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("a time that cannot be told in UTC") from None


#: ``X-Tsunagu-Taken-At`` as read: a time with its offset, told in UTC.
TakenAt = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


#: A venue's local clock time (Asia/Tokyo), sent as ``HH:MM:SS`` without an offset. JSON
#: Schema's ``format: time`` demands an offset (RFC 3339 full-time), so it is described as is.
LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?$",
            "description": "Local time at the venue (Asia/Tokyo), HH:MM:SS",
        }
    ),
]


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int
    #: What the sign-in still owes before the token opens anything else: ``password_change``
    #: (``POST /api/v1/auth/password``) or ``totp_setup`` (an admin without a second factor).
    pending: Literal["password_change", "totp_setup"] | None = None


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


USERNAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class StaffCreateIn(BaseModel):
    """A new account; its password must be changed at the first sign-in."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN)
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=12, max_length=256)
    roles: list[StaffRole] = Field(min_length=1)
    programmes: list[Programme] = Field(default_factory=list)
    venue_id: str | None = Field(default=None, pattern=ID_PATTERN)
    active: bool = True


class StaffPatchIn(BaseModel):
    """Fields to change; absent fields stay. Changing ``active``, ``roles``, ``programmes`` or
    ``password`` ends every sign-in of the account in every service."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    password: str | None = Field(default=None, min_length=12, max_length=256)
    roles: list[StaffRole] | None = Field(default=None, min_length=1)
    programmes: list[Programme] | None = None
    venue_id: str | None = Field(default=None, pattern=ID_PATTERN)
    active: bool | None = None


class StaffOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    programmes: list[str]
    venue_id: str | None
    active: bool
    password_change_required: bool
    totp_enabled: bool


class EventOut(BaseModel):
    event_id: str
    venue_id: str
    venue_name: str
    date: date
    opens_at: LocalTime
    closes_at: LocalTime
    programmes: list[str]
    #: Set when an admin allowed intake on other days than the event's own, and why.
    late_intake_reason: str | None = None


class LateIntakeIn(BaseModel):
    """Why residents may be taken in at this event on another day (paper sheets, …)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200)


class CaseCreatedOut(BaseModel):
    case_id: str
    case_number: str


class ReferralOut(BaseModel):
    referral_id: str
    programme: str
    status: str
    role: str
    #: Why routing chose the programme: ``{code, params}`` each (see the reasons contract).
    reasons: list[Reason]
    deadline_at: datetime | None = None
    escalated: bool = False
    #: A response staff sent that routing has not confirmed yet.
    submitted_action: str | None = None
    #: Why the programme declined, and how a closed referral ended (as staff gave them).
    reason: str | None = None
    outcome: str | None = None
    #: Their codes (``DeclineReason``, ``ReferralOutcome``), when staff chose one.
    reason_code: str | None = None
    outcome_code: str | None = None
    #: After a decline: the programme routing suggests next (``POST .../referrals`` takes it).
    suggested_next: str | None = None
    #: The responses routing accepts now (its lifecycle); anything else is refused with 409.
    allowed_actions: list[str] = Field(default_factory=list)

    @field_validator("reasons", mode="before")
    @classmethod
    def _sentences_of_older_events(cls, value: object) -> object:
        return upgrade_reasons(value)

    @field_validator("allowed_actions", mode="before")
    @classmethod
    def _not_told_is_none(cls, value: object) -> object:
        return [] if value is None else value


class CaseOut(BaseModel):
    """A case as the caller may see it: the food desk gets only the first four fields."""

    case_id: str
    case_number: str
    name_kana: str
    food_parcel_eligible: bool
    food_parcel_handed_out: bool | None = None
    event_id: str | None = None
    event_date: date | None = None
    venue_id: str | None = None
    venue_name: str | None = None
    household_id: str | None = None
    resident_id: str | None = None
    name: str | None = None
    birth_date: date | None = None
    age: int | None = None
    sex: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    language: str | None = None
    lives_alone: bool | None = None
    disability_certificate: bool | None = None
    special_loan_borrower: bool | None = None
    household: list[dict[str, Any]] | None = None
    proxy: dict[str, Any] | None = None
    concerns: list[str] | None = None
    most_pressing: str | None = None
    urgent: dict[str, bool] | None = None
    consent: dict[str, Any] | None = None
    #: Someone at home may be a danger (dv_abuse, or marked sensitive): use only
    #: ``consent.safe_contact`` (``none``: no safe contact at all).
    at_risk: bool | None = None
    notes: str | None = None
    taken_by: str | None = None
    board_status: str | None = None
    created_at: datetime | None = None
    referrals: list[ReferralOut] | None = None
    routing: dict[str, Any] | None = None


class CaseSummary(BaseModel):
    case_id: str
    case_number: str
    name_kana: str
    food_parcel_eligible: bool
    event_id: str | None = None
    name: str | None = None
    concerns: list[str] | None = None
    board_status: str | None = None
    created_at: datetime | None = None
    urgent: bool | None = None
    programmes: list[dict[str, str]] | None = None


class CaseList(BaseModel):
    items: list[CaseSummary]
    total: int
    page: int
    page_size: int


class UrgentFlagsIn(_In):
    no_food_today: bool = False
    eviction_within_7_days: bool = False


class MeetingIn(_In):
    """The support meeting (支援会議) that took the case."""

    held_on: date
    reference: str = Field(min_length=1, max_length=100)


class ConsentIn(_In):
    """Give consent to sharing (on ``basis``) or withdraw it.

    Basis ``consent`` names who gave it (``given_by``) and how (``given_how``); basis
    ``support_meeting`` names the meeting (``meeting``). Without them the answer is 422.
    On a withdrawal, ``confirmation``: the resident asked to be told it was done (the one
    message they still get; without it, nothing more is sent to them).
    """

    action: Literal["give", "withdraw"]
    basis: Literal[SharingBasis.CONSENT, SharingBasis.SUPPORT_MEETING] = SharingBasis.CONSENT
    given_by: ConsentGivenBy | None = None
    given_how: ConsentMethod | None = None
    meeting: MeetingIn | None = None
    confirmation: bool = False


class ReferralRequestIn(_In):
    """Ask routing for one more referral: the programme it suggested after a decline
    (``after_referral_id``: the declined referral), or any programme not on the case yet."""

    programme: Programme
    after_referral_id: str | None = Field(default=None, pattern=ID_PATTERN)


class ReferralRequestOut(BaseModel):
    case_id: str
    programme: str
    #: Routing makes the referral; it shows on the case when routing has done so.
    status: Literal["requested"] = "requested"


class SafeContactIn(_In):
    """Mark a case sensitive (someone at home may be a danger) and record its safe channel.

    ``safe_contact``: email, sms or phone (at the details recorded), or ``none`` when there is
    no safe contact; required while the case is at risk. A letter is never safe.
    """

    sensitive: bool
    safe_contact: ContactChannel | None = None


class SafeContactOut(BaseModel):
    case_id: str
    at_risk: bool
    sensitive: bool
    safe_contact: str | None
    changed: bool


class ConsentOut(BaseModel):
    case_id: str
    consent: dict[str, Any]
    changed: bool


class FactsIn(_In):
    """A correction of the concerns and urgent flags recorded at intake."""

    concerns: list[Concern] = Field(min_length=1, max_length=len(Concern))
    most_pressing: Concern | None = None
    urgent: UrgentFlagsIn = Field(default_factory=lambda: UrgentFlagsIn())

    @field_validator("concerns")
    @classmethod
    def _a_set(cls, concerns: list[Concern]) -> list[Concern]:
        if len(set(concerns)) != len(concerns):
            raise PydanticCustomError("duplicate_concern", "同じ相談内容が2回選ばれています")
        return concerns

    @field_validator("most_pressing")
    @classmethod
    def _one_of_them(cls, value: Concern | None, info: ValidationInfo) -> Concern | None:
        concerns = info.data.get("concerns")
        if value is not None and concerns is not None and value not in concerns:
            raise PydanticCustomError(
                "most_pressing_not_in_concerns",
                "一番困っていることは、選んだ相談内容の中から選んでください",
            )
        return value


class FactsOut(BaseModel):
    case_id: str
    changed: bool


class BoardStatusIn(_In):
    status: BoardStatus


class RespondIn(_In):
    """A programme's response: a decline needs its reason, a close its outcome, each as a code
    from its list (``reason_code``, ``outcome_code``: counted in reports) or as text, or both
    (the text beside the code)."""

    action: ReferralAction
    reason_code: DeclineReason | None = None
    outcome_code: ReferralOutcome | None = None
    reason: str | None = Field(default=None, max_length=500, validate_default=True)
    outcome: str | None = Field(default=None, max_length=1000, validate_default=True)

    @field_validator("reason")
    @classmethod
    def _decline_has_reason(cls, value: str | None, info: ValidationInfo) -> str | None:
        coded = info.data.get("reason_code") is not None
        if info.data.get("action") == "decline" and not value and not coded:
            raise PydanticCustomError("reason_required", "お断りする理由を選んでください")
        return value

    @field_validator("outcome")
    @classmethod
    def _close_has_outcome(cls, value: str | None, info: ValidationInfo) -> str | None:
        coded = info.data.get("outcome_code") is not None
        if info.data.get("action") == "close" and not value and not coded:
            raise PydanticCustomError("outcome_required", "終結の結果を選んでください")
        return value


class RespondOut(BaseModel):
    referral_id: str
    case_id: str
    action: str
    status: str
    submitted_at: datetime
    awaiting_confirmation: bool


class MatchOut(BaseModel):
    resident_id: str
    score: int
    reasons: list[str]
    name: str
    name_kana: str
    birth_date: date | None
    household_id: str
    last_visit: date | None


class Matches(BaseModel):
    matches: list[MatchOut]
