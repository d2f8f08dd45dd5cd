"""Anonymous report facts, venue access, event capacity and planning notes, booths and rosters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("venue", sa.Column("access", sa.Text()), schema=SCHEMA)
    op.add_column("consultation_event", sa.Column("capacity", sa.Integer()), schema=SCHEMA)
    op.add_column("consultation_event", sa.Column("planning_notes", sa.Text()), schema=SCHEMA)
    op.create_table(
        "report_pseudonym",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("pseudonym", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", name="pk_report_pseudonym"),
        sa.UniqueConstraint("pseudonym", name="uq_report_pseudonym_pseudonym"),
        schema=SCHEMA,
    )
    op.create_table(
        "report_case",
        sa.Column("fact_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36)),
        sa.Column("event_id", sa.String(64)),
        sa.Column("resident_key", sa.String(36)),
        sa.Column("household_key", sa.String(36)),
        sa.Column("concerns", JSONB(), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("compound", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("fact_id", name="pk_report_case"),
        sa.UniqueConstraint("case_id", name="uq_report_case_case_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_report_case_event_id", "report_case", ["event_id"], schema=SCHEMA)
    op.create_index("ix_report_case_resident_key", "report_case", ["resident_key"], schema=SCHEMA)
    op.create_table(
        "report_referral",
        sa.Column("referral_id", sa.String(64), nullable=False),
        sa.Column("fact_id", sa.String(36), nullable=False),
        sa.Column("programme", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True)),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("escalated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("decline_reason", sa.String(32)),
        sa.Column("outcome", sa.String(32)),
        sa.PrimaryKeyConstraint("referral_id", name="pk_report_referral"),
        schema=SCHEMA,
    )
    op.create_index("ix_report_referral_fact_id", "report_referral", ["fact_id"], schema=SCHEMA)
    op.create_table(
        "report_parcel",
        sa.Column("handout_id", sa.String(64), nullable=False),
        sa.Column("fact_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("household_key", sa.String(36), nullable=False),
        sa.Column("parcel_type", sa.String(32), nullable=False),
        sa.Column("handed_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("handout_id", name="pk_report_parcel"),
        schema=SCHEMA,
    )
    op.create_index("ix_report_parcel_fact_id", "report_parcel", ["fact_id"], schema=SCHEMA)
    op.create_index("ix_report_parcel_event_id", "report_parcel", ["event_id"], schema=SCHEMA)
    op.create_table(
        "event_booth",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("programme", sa.String(32), nullable=False),
        sa.Column("booth", sa.String(50), nullable=False),
        sa.Column("roster", JSONB(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            [f"{SCHEMA}.consultation_event.event_id"],
            name="fk_event_booth_event_id_consultation_event",
        ),
        sa.PrimaryKeyConstraint("event_id", "programme", name="pk_event_booth"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("event_booth", schema=SCHEMA)
    op.drop_table("report_parcel", schema=SCHEMA)
    op.drop_table("report_referral", schema=SCHEMA)
    op.drop_table("report_case", schema=SCHEMA)
    op.drop_table("report_pseudonym", schema=SCHEMA)
    op.drop_column("consultation_event", "planning_notes", schema=SCHEMA)
    op.drop_column("consultation_event", "capacity", schema=SCHEMA)
    op.drop_column("venue", "access", schema=SCHEMA)
