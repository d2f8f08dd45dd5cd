"""Idempotency keys as every service keeps them (``tsunagu.shared.idempotency``): up to 255
characters, as intake has always taken.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"


def upgrade() -> None:
    op.alter_column(
        "idempotency_key",
        "key",
        type_=sa.String(255),
        existing_type=sa.String(200),
        existing_nullable=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    # Longer keys cannot be kept in the narrower column; they were retries' keys only.
    op.execute(f'DELETE FROM "{SCHEMA}".idempotency_key WHERE length(key) > 200')
    op.alter_column(
        "idempotency_key",
        "key",
        type_=sa.String(200),
        existing_type=sa.String(255),
        existing_nullable=False,
        schema=SCHEMA,
    )
