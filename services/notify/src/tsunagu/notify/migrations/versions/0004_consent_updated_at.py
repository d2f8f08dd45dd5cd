"""``case_contact.consent_updated_at``: when intake made the consent held, so that a replayed
older event (a ``case_created`` after a ``consent_changed``) never overwrites a newer one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "notify"


def upgrade() -> None:
    op.add_column(
        "case_contact",
        sa.Column("consent_updated_at", sa.DateTime(timezone=True)),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("case_contact", "consent_updated_at", schema=SCHEMA)
