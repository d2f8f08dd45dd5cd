"""The last TOTP time step each staff member signed in with, so that a code is taken once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("staff_user", sa.Column("totp_last_step", sa.BigInteger()), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("staff_user", "totp_last_step", schema=SCHEMA)
