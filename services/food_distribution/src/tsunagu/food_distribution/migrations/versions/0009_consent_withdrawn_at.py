"""When the resident's consent withdrawal reached the desk (``case_index.withdrawn_at``): a
decision of routing's made before it (a replay arriving late) grants nothing (ADR 24).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"


def upgrade() -> None:
    op.add_column(
        "case_index",
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("case_index", "withdrawn_at", schema=SCHEMA)
