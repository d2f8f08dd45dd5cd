"""Report facts: the households the food desk found to be one (ADR 33).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.create_table(
        "report_household_link",
        sa.Column("moved_key", sa.String(36), nullable=False),
        sa.Column("joined_key", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("moved_key", "joined_key", name="pk_report_household_link"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_report_household_link_joined_key",
        "report_household_link",
        ["joined_key"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("report_household_link", schema=SCHEMA)
