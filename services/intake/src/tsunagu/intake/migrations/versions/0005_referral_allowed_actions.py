"""Referrals carry the responses routing accepts now; a case records its last re-routing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"

#: A one-time translation of what was held before routing's events named the allowed actions
#: (routing's lifecycle as of this release). From now on only routing's events set them.
_BACKFILL = """
UPDATE {schema}.referral SET allowed_actions = CASE status
    WHEN 'pending' THEN '["accept", "decline"]'::jsonb
    WHEN 'escalated' THEN '["accept", "decline"]'::jsonb
    WHEN 'accepted' THEN '["start"]'::jsonb
    WHEN 'in_progress' THEN '["close"]'::jsonb
    ELSE '[]'::jsonb
END
"""


def upgrade() -> None:
    op.add_column(
        "referral", sa.Column("allowed_actions", postgresql.JSONB()), schema=SCHEMA
    )
    op.execute(_BACKFILL.format(schema=SCHEMA))
    op.add_column(
        "case_routing", sa.Column("rerouted_at", sa.DateTime(timezone=True)), schema=SCHEMA
    )
    op.add_column("case_routing", sa.Column("rerouted", postgresql.JSONB()), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("case_routing", "rerouted", schema=SCHEMA)
    op.drop_column("case_routing", "rerouted_at", schema=SCHEMA)
    op.drop_column("referral", "allowed_actions", schema=SCHEMA)
