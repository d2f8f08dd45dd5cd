"""The coordinator of a compound case, from routing: ``case_contact.coordinator``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "notify"


def upgrade() -> None:
    op.add_column("case_contact", sa.Column("coordinator", sa.String(32)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("case_contact", "coordinator", schema=SCHEMA)
