"""Residents' data keys (wrapped by the master key), erasures, and tombstones (ADR 12).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tsunagu.shared.runtime import create_erased_case_table, drop_erased_case_table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "intake"



def upgrade() -> None:
    create_erased_case_table(SCHEMA)
    op.create_table(
        "resident_key",
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("resident_id", name="pk_resident_key"),
        schema=SCHEMA,
    )
    op.create_table(
        "erasure",
        sa.Column("resident_id", sa.String(36), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("erased_by", sa.String(64), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", name="pk_erasure"),
        schema=SCHEMA,
    )
    op.add_column(
        "resident",
        sa.Column("erased_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("resident", "erased_at", schema=SCHEMA)
    op.drop_table("erasure", schema=SCHEMA)
    op.drop_table("resident_key", schema=SCHEMA)
    drop_erased_case_table(SCHEMA)
