"""A decline's reason and a close's outcome as codes too: ``referral.reason_code``,
``referral.outcome_code`` (the free text stays in ``reason`` and ``outcome``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "routing"


def upgrade() -> None:
    op.add_column("referral", sa.Column("reason_code", sa.String(32)), schema=SCHEMA)
    op.add_column("referral", sa.Column("outcome_code", sa.String(32)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("referral", "outcome_code", schema=SCHEMA)
    op.drop_column("referral", "reason_code", schema=SCHEMA)
