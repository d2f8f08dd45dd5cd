"""Intake's first schema: venues, events, staff, residents, cases, audit, read model, outbox.

Revision ID: 0001
Revises:
Create Date: 2025-06-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from tsunagu.shared.messaging import create_inbox_table
from tsunagu.shared.outbox import create_outbox_table

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    # --- outbox and inbox (tsunagu.shared.outbox / messaging) ------------------------------
    create_outbox_table(SCHEMA)
    create_inbox_table(SCHEMA)

    # --- what intake owns -----------------------------------------------------------------
    op.create_table(
        "venue",
        sa.Column("venue_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("address", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("venue_id", name="pk_venue"),
        schema=SCHEMA,
    )
    op.create_table(
        "consultation_event",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("venue_id", sa.String(64), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_at", sa.Time(), nullable=False),
        sa.Column("programmes", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_consultation_event"),
        sa.ForeignKeyConstraint(
            ["venue_id"],
            [f"{SCHEMA}.venue.venue_id"],
            name="fk_consultation_event_venue_id_venue",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_consultation_event_event_date_venue_id",
        "consultation_event",
        ["event_date", "venue_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "staff_user",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("roles", JSONB(), nullable=False),
        sa.Column("programmes", JSONB(), nullable=False),
        sa.Column("venue_id", sa.String(64)),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_staff_user"),
        sa.ForeignKeyConstraint(
            ["venue_id"], [f"{SCHEMA}.venue.venue_id"], name="fk_staff_user_venue_id_venue"
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "household",
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("household_id", name="pk_household"),
        schema=SCHEMA,
    )
    op.create_table(
        "resident",
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_kana", sa.String(100), nullable=False),
        sa.Column("kana_search_key", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date()),
        sa.Column("sex", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(11)),
        sa.Column("phone_tail", sa.String(8)),
        sa.Column("email", sa.String(254)),
        sa.Column("address", sa.String(200)),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", name="pk_resident"),
        sa.ForeignKeyConstraint(
            ["household_id"],
            [f"{SCHEMA}.household.household_id"],
            name="fk_resident_household_id_household",
        ),
        schema=SCHEMA,
    )
    for column in ("kana_search_key", "birth_date", "phone_tail"):
        op.create_index(f"ix_resident_{column}", "resident", [column], schema=SCHEMA)
    op.create_table(
        "case_number_counter",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_case_number_counter"),
        schema=SCHEMA,
    )
    op.create_table(
        "case",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("case_number", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("age", sa.Integer()),
        sa.Column("lives_alone", sa.Boolean()),
        sa.Column("disability_certificate", sa.Boolean(), nullable=False),
        sa.Column("special_loan_borrower", sa.Boolean(), nullable=False),
        sa.Column("household_members", JSONB(), nullable=False),
        sa.Column("proxy", JSONB()),
        sa.Column("concerns", JSONB(), nullable=False),
        sa.Column("most_pressing", sa.String(32)),
        sa.Column("urgent_no_food_today", sa.Boolean(), nullable=False),
        sa.Column("urgent_eviction_within_7_days", sa.Boolean(), nullable=False),
        sa.Column("consent_share", sa.Boolean(), nullable=False),
        sa.Column("consent_basis", sa.String(32), nullable=False),
        sa.Column("contact_channels", JSONB(), nullable=False),
        sa.Column("contact_time", sa.String(16), nullable=False),
        sa.Column("notes", sa.Text()),
        sa.Column("taken_by", sa.String(64), nullable=False),
        sa.Column("board_status", sa.String(16), server_default="waiting", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_case"),
        sa.UniqueConstraint("case_number", name="uq_case_case_number"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            [f"{SCHEMA}.consultation_event.event_id"],
            name="fk_case_event_id_consultation_event",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], [f"{SCHEMA}.resident.resident_id"], name="fk_case_resident_id_resident"
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            [f"{SCHEMA}.household.household_id"],
            name="fk_case_household_id_household",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_case_resident_id", "case", ["resident_id"], schema=SCHEMA)
    op.create_index(
        "ix_case_event_id_board_status", "case", ["event_id", "board_status"], schema=SCHEMA
    )
    op.create_table(
        "idempotency_key",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(36)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_idempotency_key"),
        schema=SCHEMA,
    )

    # --- read model fed by routing.case.v1 and food.v1 ------------------------------------
    op.create_table(
        "case_routing",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("rule_version", sa.String(64), nullable=False),
        sa.Column("lead", sa.String(32), nullable=False),
        sa.Column("coordinator", sa.String(32)),
        sa.Column("compound", sa.Boolean(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("food_parcel_eligible", sa.Boolean(), nullable=False),
        sa.Column("awaiting_consent", JSONB(), nullable=False),
        sa.Column("external", JSONB(), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_routing"),
        schema=SCHEMA,
    )
    op.create_table(
        "referral",
        sa.Column("referral_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("programme", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reasons", JSONB(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True)),
        sa.Column("escalated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("last_reason", sa.Text()),
        sa.Column("last_outcome", sa.Text()),
        sa.Column("submitted_action", sa.String(16)),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", name="pk_referral"),
        schema=SCHEMA,
    )
    op.create_index("ix_referral_case_id", "referral", ["case_id"], schema=SCHEMA)
    op.create_index("ix_referral_programme", "referral", ["programme"], schema=SCHEMA)
    op.create_table(
        "food_eligibility",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("basis", sa.String(32)),
        sa.Column("granted_at", sa.DateTime(timezone=True)),
        sa.Column("parcel_type", sa.String(32)),
        sa.Column("handed_out_at", sa.DateTime(timezone=True)),
        sa.Column("handed_out_by", sa.String(64)),
        sa.PrimaryKeyConstraint("case_id", name="pk_food_eligibility"),
        schema=SCHEMA,
    )

    # --- audit ----------------------------------------------------------------------------
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(36)),
        sa.Column("target", sa.String(64)),
        sa.Column("detail", JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", name="pk_audit_log"),
        schema=SCHEMA,
    )
    op.create_index("ix_audit_log_case_id", "audit_log", ["case_id"], schema=SCHEMA)


def downgrade() -> None:
    for table in (
        "audit_log",
        "food_eligibility",
        "referral",
        "case_routing",
        "idempotency_key",
        "case",
        "case_number_counter",
        "resident",
        "household",
        "staff_user",
        "consultation_event",
        "venue",
        "inbox",
        "outbox",
    ):
        op.drop_table(table, schema=SCHEMA)
