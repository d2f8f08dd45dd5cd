"""Intake's tables: what it owns (venues, events, staff, residents, cases, audit) and its read model.

The read model (``referral``, ``case_routing``, ``food_eligibility``) is filled by the consumers
of routing's and food distribution's events; intake never writes referral state itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from tsunagu.shared.audit import audit_table
from tsunagu.shared.idempotency import idempotency_key_table
from tsunagu.shared.runtime import ServiceTables

# JSONB on PostgreSQL; plain JSON elsewhere keeps the metadata importable without a dialect.
_JSON = JSON().with_variant(JSONB(), "postgresql")


def _created_at() -> Column[Any]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


class IntakeTables(ServiceTables):
    def __init__(self, schema: str = "intake") -> None:
        super().__init__(schema)
        m = self.metadata

        self.venue = Table(
            "venue",
            m,
            Column("venue_id", String(64), primary_key=True),
            Column("name", String(100), nullable=False),
            #: The name's reading in hiragana (domain.normalize.venue_kana), set over the name on
            #: the residents' page and in brackets on the flyer in やさしい日本語; None: not given.
            Column("name_kana", String(100)),
            Column("address", String(200)),
            #: How to get there (station, bus, parking), for the residents' page and the flyer.
            Column("access", Text),
            _created_at(),
        )
        self.consultation_event = Table(
            "consultation_event",
            m,
            Column("event_id", String(64), primary_key=True),
            Column("venue_id", ForeignKey("venue.venue_id"), nullable=False),
            Column("event_date", Date, nullable=False),
            Column("opens_at", Time, nullable=False),
            Column("closes_at", Time, nullable=False),
            #: Programme codes with a booth at this event.
            Column("programmes", _JSON, nullable=False),
            #: Event planning: how many residents the venue can take, notes of the meeting.
            Column("capacity", Integer),
            Column("planning_notes", Text),
            #: An admin's leave to take residents in on another day than the event's own (paper
            #: sheets typed in afterwards): why, who, when. Empty: the event's day only.
            Column("late_intake_reason", Text),
            Column("late_intake_by", String(64)),
            Column("late_intake_at", DateTime(timezone=True)),
            _created_at(),
            Index("ix_consultation_event_event_date_venue_id", "event_date", "venue_id"),
        )
        self.staff_user = Table(
            "staff_user",
            m,
            Column("username", String(64), primary_key=True),
            Column("display_name", String(100), nullable=False),
            Column("password_hash", String(255), nullable=False),
            Column("roles", _JSON, nullable=False),
            Column("programmes", _JSON, nullable=False),
            Column("venue_id", ForeignKey("venue.venue_id")),
            Column("active", Boolean, nullable=False, server_default=text("true")),
            #: Raised whenever every sign-in must end (deactivated, roles or password changed).
            Column("token_version", Integer, nullable=False, server_default=text("0")),
            #: Set for a new account or a password an admin chose: changed at the next sign-in.
            Column(
                "password_change_required", Boolean, nullable=False, server_default=text("false")
            ),
            #: The TOTP secret, sealed by the master key (adapters.totp); None: no second factor.
            Column("totp_secret", String(255)),
            #: The time step of the last code accepted at sign-in: a code is taken once.
            Column("totp_last_step", BigInteger),
            #: A second factor being set up: its new secret, sealed like ``totp_secret``, until
            #: the person confirms it with a code or ``totp_pending_until`` passes.
            Column("totp_pending", String(255)),
            Column("totp_pending_until", DateTime(timezone=True)),
            _created_at(),
            Column(
                "updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
        )
        #: Failed logins per client address and per username as typed (domain.login_throttle).
        self.login_delay = Table(
            "login_delay",
            m,
            Column("key", String(200), primary_key=True),
            Column("failures", Integer, nullable=False),
            Column("last_failed_at", DateTime(timezone=True), nullable=False),
        )
        self.household = Table(
            "household",
            m,
            Column("household_id", String(64), primary_key=True),
            _created_at(),
        )
        self.resident = Table(
            "resident",
            m,
            Column("resident_id", String(36), primary_key=True),
            Column("household_id", ForeignKey("household.household_id"), nullable=False),
            Column("name", String(100), nullable=False),
            Column("name_kana", String(100), nullable=False),
            #: ``matching.kana_search_key(name_kana)``: what duplicate matching looks up.
            Column("kana_search_key", String(100), nullable=False, index=True),
            Column("birth_date", Date, index=True),
            Column("sex", String(16), nullable=False),
            Column("phone", String(11)),  # digits only
            #: Last 8 digits: a number matches even when written without its area code.
            Column("phone_tail", String(8), index=True),
            Column("email", String(254)),
            Column("address", String(200)),
            Column("language", String(16), nullable=False),
            _created_at(),
            Column(
                "updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            #: Set when the resident was erased: every personal column is then empty.
            Column("erased_at", DateTime(timezone=True)),
        )
        # --- residents' data keys and erasures (ADR 12) ----------------------------------------
        #: Each resident's data key, wrapped by the master key ``key_id``. Deleting the row
        #: destroys the key: whatever was sealed with it, anywhere, can no longer be opened.
        self.resident_key = Table(
            "resident_key",
            m,
            Column("resident_id", String(36), primary_key=True),
            Column("key_id", String(64), nullable=False),
            Column("wrapped_key", Text, nullable=False),
            _created_at(),
        )
        #: Who erased which resident, when, on what basis and why (no personal data).
        self.erasure = Table(
            "erasure",
            m,
            Column("resident_id", String(36), primary_key=True),
            Column("basis", String(16), nullable=False),
            Column("reason", String(500), nullable=False),
            Column("erased_by", String(64), nullable=False),
            Column("cases", Integer, nullable=False),
            Column("erased_at", DateTime(timezone=True), nullable=False),
        )
        self.case_number_counter = Table(
            "case_number_counter",
            m,
            Column("day", Date, primary_key=True),
            Column("last_number", Integer, nullable=False),
        )
        self.case = Table(
            "case",
            m,
            Column("case_id", String(36), primary_key=True),
            Column("case_number", String(32), nullable=False, unique=True),
            Column("event_id", ForeignKey("consultation_event.event_id"), nullable=False),
            Column("resident_id", ForeignKey("resident.resident_id"), nullable=False, index=True),
            Column("household_id", ForeignKey("household.household_id"), nullable=False),
            #: Age in completed years on the event date (what travels on the bus).
            Column("age", Integer),
            Column("lives_alone", Boolean),
            Column("disability_certificate", Boolean, nullable=False),
            Column("special_loan_borrower", Boolean, nullable=False),
            Column("household_members", _JSON, nullable=False),
            Column("proxy", _JSON),
            Column("concerns", _JSON, nullable=False),
            Column("most_pressing", String(32)),
            Column("urgent_no_food_today", Boolean, nullable=False),
            Column("urgent_eviction_within_7_days", Boolean, nullable=False),
            Column("consent_share", Boolean, nullable=False),
            Column("consent_basis", String(32), nullable=False),
            Column("contact_channels", _JSON, nullable=False),
            Column("contact_time", String(16), nullable=False),
            #: Staff marked the case sensitive (someone at home may be a danger); with a
            #: ``dv_abuse`` concern the case is at risk too: only ``safe_contact`` is used.
            Column("sensitive", Boolean, nullable=False, server_default=text("false")),
            #: email, sms or phone; "none": there is no safe contact. Null: not at risk.
            Column("safe_contact", String(16)),
            Column("notes", Text),
            Column("taken_by", String(64), nullable=False),
            #: The event day board: waiting, in_consultation, done.
            Column("board_status", String(16), nullable=False, server_default="waiting"),
            _created_at(),
            Column(
                "updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            Index("ix_case_event_id_board_status", "event_id", "board_status"),
        )
        #: A new case per (staff, Idempotency-Key); the outcome is {"case_id": ...}.
        self.idempotency_key = idempotency_key_table(m)
        # --- read model, fed by routing.case.v1 and food.v1 -------------------------------
        self.case_routing = Table(
            "case_routing",
            m,
            Column("case_id", String(36), primary_key=True),
            Column("rule_version", String(64), nullable=False),
            Column("lead", String(32), nullable=False),
            Column("coordinator", String(32)),
            Column("compound", Boolean, nullable=False),
            Column("urgent", Boolean, nullable=False),
            Column("food_parcel_eligible", Boolean, nullable=False),
            Column("awaiting_consent", _JSON, nullable=False),
            Column("external", _JSON, nullable=False),
            Column("routed_at", DateTime(timezone=True), nullable=False),
            #: The last re-routing after a correction: when, and which programmes it added
            #: and withdrawn (``{"added": [...], "withdrawn": [...]}``).
            Column("rerouted_at", DateTime(timezone=True)),
            Column("rerouted", _JSON),
        )
        self.referral = Table(
            "referral",
            m,
            Column("referral_id", String(64), primary_key=True),
            Column("case_id", String(36), nullable=False, index=True),
            Column("programme", String(32), nullable=False, index=True),
            Column("role", String(16), nullable=False),
            Column("status", String(16), nullable=False),
            Column("reasons", _JSON, nullable=False),
            Column("deadline_at", DateTime(timezone=True)),
            Column("escalated", Boolean, nullable=False, server_default=text("false")),
            Column("last_reason", Text),
            Column("last_outcome", Text),
            #: The codes beside them (DeclineReason, ReferralOutcome), for counting.
            Column("last_reason_code", String(32)),
            Column("last_outcome_code", String(32)),
            #: After a decline: the programme routing suggests next (its referral_status_changed).
            Column("suggested_next", String(32)),
            #: The responses routing accepts now, as its last event said (null: not told).
            Column("allowed_actions", _JSON),
            #: A response staff submitted that routing has not confirmed yet ("確認待ち").
            Column("submitted_action", String(16)),
            Column("submitted_at", DateTime(timezone=True)),
            Column("updated_at", DateTime(timezone=True), nullable=False),
        )
        self.food_eligibility = Table(
            "food_eligibility",
            m,
            Column("case_id", String(36), primary_key=True),
            Column("household_id", String(64), nullable=False),
            Column("event_id", String(64), nullable=False),
            Column("basis", String(32)),
            Column("granted_at", DateTime(timezone=True)),
            Column("parcel_type", String(32)),
            Column("handed_out_at", DateTime(timezone=True)),
            Column("handed_out_by", String(64)),
        )
        # --- report facts: anonymous, fed by intake.case.v1, routing.case.v1 and food.v1 ---
        # No name, no contact, no free text: ids of residents and households are replaced by
        # pseudonyms whose key (``report_pseudonym``) is deleted when a resident is erased,
        # and the case, referral and handout ids are unlinked then; the counts stay.
        self.report_pseudonym = Table(
            "report_pseudonym",
            m,
            Column("kind", String(16), primary_key=True),  # resident, household
            Column("subject_id", String(64), primary_key=True),
            Column("pseudonym", String(36), nullable=False, unique=True),
        )
        self.report_case = Table(
            "report_case",
            m,
            Column("fact_id", String(36), primary_key=True),
            #: The link to the case while it exists; NULL once the resident is erased.
            Column("case_id", String(36), unique=True),
            Column("event_id", String(64), index=True),
            Column("resident_key", String(36), index=True),
            Column("household_key", String(36)),
            Column("concerns", _JSON, nullable=False),
            Column("urgent", Boolean, nullable=False, server_default=text("false")),
            Column("compound", Boolean, nullable=False, server_default=text("false")),
            Column("taken_at", DateTime(timezone=True)),
        )
        self.report_referral = Table(
            "report_referral",
            m,
            Column("referral_id", String(64), primary_key=True),
            Column("fact_id", String(36), nullable=False, index=True),
            Column("programme", String(32), nullable=False),
            Column("status", String(16), nullable=False),
            Column("routed_at", DateTime(timezone=True)),
            Column("accepted_at", DateTime(timezone=True)),
            Column("escalated", Boolean, nullable=False, server_default=text("false")),
            #: A reason or outcome code (never free text: that stays with the case).
            Column("decline_reason", String(32)),
            Column("outcome", String(32)),
        )
        self.report_parcel = Table(
            "report_parcel",
            m,
            Column("handout_id", String(64), primary_key=True),
            Column("fact_id", String(36), nullable=False, index=True),
            Column("event_id", String(64), nullable=False, index=True),
            Column("household_key", String(36), nullable=False),
            Column("parcel_type", String(32), nullable=False),
            Column("handed_out_at", DateTime(timezone=True), nullable=False),
        )
        #: Two household pseudonyms the food desk found to be one household (food's
        #: ``household_linked``, ADR 33). Kept as told, never applied to the parcels: a report
        #: counts the households linked with each other, directly or through others, as one.
        self.report_household_link = Table(
            "report_household_link",
            m,
            Column("moved_key", String(36), primary_key=True),
            Column("joined_key", String(36), primary_key=True, index=True),
        )
        # --- event planning ------------------------------------------------------------
        #: A programme's booth at an event and who staffs it (staff usernames, in order).
        self.event_booth = Table(
            "event_booth",
            m,
            Column("event_id", ForeignKey("consultation_event.event_id"), primary_key=True),
            Column("programme", String(32), primary_key=True),
            Column("booth", String(50), nullable=False),
            Column("roster", _JSON, nullable=False),
        )
        # --- audit -----------------------------------------------------------------------
        self.audit_log = audit_table(m)  # hash-chained (tsunagu.shared.audit)


tables = IntakeTables()
