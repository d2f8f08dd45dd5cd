"""Events about a case not routed yet are parked (``parked_event``), and the decision keeps when
intake made the facts and the consent it holds (``facts_changed_at``, ``consent_changed_at``),
so an older event never overwrites a newer state (ADR 10).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from tsunagu.shared.parking import create_parked_event_table, drop_parked_event_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    create_parked_event_table(SCHEMA)
    op.add_column("decision", sa.Column("facts_changed_at", sa.DateTime(timezone=True)), schema=SCHEMA)
    op.add_column(
        "decision", sa.Column("consent_changed_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_column("decision", "consent_changed_at", schema=SCHEMA)
    op.drop_column("decision", "facts_changed_at", schema=SCHEMA)
    drop_parked_event_table(SCHEMA)
