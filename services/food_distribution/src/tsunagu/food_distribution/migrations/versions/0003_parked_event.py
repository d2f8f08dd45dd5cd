"""``parked_event``: an event about a case food has not heard of yet, applied when the case
arrives (``tsunagu.shared.parking``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from tsunagu.shared.parking import create_parked_event_table, drop_parked_event_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"


def upgrade() -> None:
    create_parked_event_table(SCHEMA)


def downgrade() -> None:
    drop_parked_event_table(SCHEMA)
