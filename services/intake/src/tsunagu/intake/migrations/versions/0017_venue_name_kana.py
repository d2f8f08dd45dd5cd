"""A venue's name with its reading in hiragana, for the residents' page and flyer in やさしい日本語.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("venue", sa.Column("name_kana", sa.String(100)), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("venue", "name_kana", schema=SCHEMA)
