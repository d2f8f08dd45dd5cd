"""The venue's display name on an event (from intake's case_created), for the desk.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"


def upgrade() -> None:
    op.add_column("event", sa.Column("venue_name", sa.String(100)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("event", "venue_name", schema=SCHEMA)
