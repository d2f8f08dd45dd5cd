"""Residents at risk: ``case.sensitive`` and the one ``safe_contact`` staff recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column(
        "case",
        sa.Column("sensitive", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        schema=SCHEMA,
    )
    op.add_column("case", sa.Column("safe_contact", sa.String(16)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("case", "safe_contact", schema=SCHEMA)
    op.drop_column("case", "sensitive", schema=SCHEMA)
