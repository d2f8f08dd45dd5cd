"""Events about a case not routed yet are parked (``parked_event``), and the decision keeps when
intake made the facts and the consent it holds (``facts_changed_at``, ``consent_changed_at``),
so an older event never overwrites a newer state (ADR 10).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    op.create_table(
        "parked_event",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("envelope", JSONB, nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_parked_event"),
        schema=SCHEMA,
    )
    op.create_index("ix_parked_event_case_id", "parked_event", ["case_id"], schema=SCHEMA)
    op.add_column("decision", sa.Column("facts_changed_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column(
        "decision", sa.Column("consent_changed_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_column("decision", "consent_changed_at", schema=SCHEMA)
    op.drop_column("decision", "facts_changed_at", schema=SCHEMA)
    op.drop_index("ix_parked_event_case_id", table_name="parked_event", schema=SCHEMA)
    op.drop_table("parked_event", schema=SCHEMA)
