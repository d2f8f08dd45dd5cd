"""After a decline: ``referral.suggested_next``, the programme routing suggests next.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("referral", sa.Column("suggested_next", sa.String(32)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("referral", "suggested_next", schema=SCHEMA)
