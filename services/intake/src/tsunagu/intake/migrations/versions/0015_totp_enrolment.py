"""A second factor being set up: its new secret, sealed, kept on the server until it is confirmed
or ten minutes pass (it was kept in a cookie before).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("staff_user", sa.Column("totp_pending", sa.String(255)), schema=SCHEMA)
    op.add_column(
        "staff_user", sa.Column("totp_pending_until", sa.DateTime(timezone=True)), schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_column("staff_user", "totp_pending_until", schema=SCHEMA)
    op.drop_column("staff_user", "totp_pending", schema=SCHEMA)
