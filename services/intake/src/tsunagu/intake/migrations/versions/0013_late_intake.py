"""An admin's leave to take residents in at an event on another day than its own.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("consultation_event", sa.Column("late_intake_reason", sa.Text()), schema=SCHEMA)
    op.add_column(
        "consultation_event", sa.Column("late_intake_by", sa.String(64)), schema=SCHEMA
    )
    op.add_column(
        "consultation_event",
        sa.Column("late_intake_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for column in ("late_intake_at", "late_intake_by", "late_intake_reason"):
        op.drop_column("consultation_event", column, schema=SCHEMA)
