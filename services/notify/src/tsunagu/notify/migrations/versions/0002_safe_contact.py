"""Residents at risk: ``case_contact.at_risk`` and the one ``safe_channel`` they may be reached on.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "notify"


def upgrade() -> None:
    op.add_column(
        "case_contact",
        sa.Column("at_risk", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        schema=SCHEMA,
    )
    op.add_column("case_contact", sa.Column("safe_channel", sa.String(16)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("case_contact", "safe_channel", schema=SCHEMA)
    op.drop_column("case_contact", "at_risk", schema=SCHEMA)
