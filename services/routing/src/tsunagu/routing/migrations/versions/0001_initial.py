"""Routing's tables: outbox, inbox, decision, referral, referral_status_change.

Revision ID: 0001
Revises:
Create Date: 2026-01-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tsunagu.shared.messaging import create_inbox_table
from tsunagu.shared.outbox import create_outbox_table

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "routing"
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The outbox and inbox every service has (tsunagu.shared.runtime.ServiceTables).
    create_outbox_table(SCHEMA)
    create_inbox_table(SCHEMA)

    op.create_table(
        "decision",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("rule_version", sa.String(32), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("sharing_basis", sa.String(32), nullable=False),
        sa.Column("facts", postgresql.JSONB(), nullable=False),
        sa.Column("decision", postgresql.JSONB(), nullable=False),
        sa.Column("consent_withdrawn_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_decision"),
        schema=SCHEMA,
    )
    op.create_table(
        "referral",
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("programme", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deadline_at", TZ),
        sa.Column("reasons", postgresql.JSONB(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("outcome", sa.Text()),
        sa.Column("suggested_next", sa.String(32)),
        sa.Column("taken_by", sa.String(64)),
        sa.Column("shared_at", TZ),
        sa.Column("escalated_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("referral_id", name="pk_referral"),
        sa.ForeignKeyConstraint(
            ["case_id"], [f"{SCHEMA}.decision.case_id"], name="fk_referral_case_id_decision"
        ),
        sa.UniqueConstraint("case_id", "programme", name="uq_referral_case_id_programme"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_referral_pending_deadline",
        "referral",
        ["deadline_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_referral_programme_status", "referral", ["programme", "status"], schema=SCHEMA
    )
    op.create_table(
        "referral_status_change",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("programme", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("outcome", sa.Text()),
        sa.Column("suggested_next", sa.String(32)),
        sa.Column("note", sa.Text()),
        sa.Column("cause_event_id", sa.String(64)),
        sa.Column("at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_referral_status_change"),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            [f"{SCHEMA}.referral.referral_id"],
            name="fk_referral_status_change_referral_id_referral",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_referral_status_change_referral_id",
        "referral_status_change",
        ["referral_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("referral_status_change", schema=SCHEMA)
    op.drop_table("referral", schema=SCHEMA)
    op.drop_table("decision", schema=SCHEMA)
    op.drop_table("inbox", schema=SCHEMA)
    op.drop_table("outbox", schema=SCHEMA)
