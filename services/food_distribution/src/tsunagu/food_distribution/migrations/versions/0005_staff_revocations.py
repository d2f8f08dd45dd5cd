"""Ended staff sign-ins, kept from intake's staff_sessions_revoked (tsunagu.shared.revocation).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"


def upgrade() -> None:
    create_revocation_tables(SCHEMA)


def downgrade() -> None:
    op.drop_table("staff_token_version", schema=SCHEMA)
    op.drop_table("revoked_session", schema=SCHEMA)


def create_revocation_tables(schema: str) -> None:
    op.create_table(
        "revoked_session",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_revoked_session"),
        schema=schema,
    )
    op.create_table(
        "staff_token_version",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("username", name="pk_staff_token_version"),
        schema=schema,
    )
