"""A delivery remembers the status it was claimed from (``claimed_from``), so that a lease
whose claim or hand-over this sender never saw through can be given back as it was (ADR 29).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = "notify"


def upgrade() -> None:
    op.add_column("delivery", sa.Column("claimed_from", sa.String(32)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("delivery", "claimed_from", schema=SCHEMA)
