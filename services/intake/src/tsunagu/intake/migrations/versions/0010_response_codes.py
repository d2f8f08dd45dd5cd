"""The codes of a decline's reason and a close's outcome, as routing confirmed them:
``referral.last_reason_code``, ``referral.last_outcome_code``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("referral", sa.Column("last_reason_code", sa.String(32)), schema=SCHEMA)
    op.add_column("referral", sa.Column("last_outcome_code", sa.String(32)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("referral", "last_outcome_code", schema=SCHEMA)
    op.drop_column("referral", "last_reason_code", schema=SCHEMA)
