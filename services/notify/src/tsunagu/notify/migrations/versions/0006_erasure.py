"""Tombstones of erased cases: their events are ignored from now on (ADR 12).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "notify"


def _erased_case() -> None:
    op.create_table(
        "erased_case",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("resident_id", sa.String(64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_erased_case"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_erased_case_resident_id", "erased_case", ["resident_id"], schema=SCHEMA
    )


def upgrade() -> None:
    _erased_case()


def downgrade() -> None:
    op.drop_table("erased_case", schema=SCHEMA)
