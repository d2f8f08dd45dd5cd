"""``parked_event``: an event about a case food has not heard of yet, applied when the case
arrives (``tsunagu.shared.parking``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"


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
    op.create_index(
        "ix_parked_event_case_id", "parked_event", ["case_id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_parked_event_case_id", table_name="parked_event", schema=SCHEMA)
    op.drop_table("parked_event", schema=SCHEMA)
