"""Consent withdrawal and access: ``case_contact.consent_withdrawn_at``; ``case_programme``
(which programmes hold which case, from routing's events).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "notify"
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("case_contact", sa.Column("consent_withdrawn_at", TZ), schema=SCHEMA)
    op.create_table(
        "case_programme",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("programme", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("case_id", "programme", name="pk_case_programme"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_case_programme_programme", "case_programme", ["programme"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_case_programme_programme", table_name="case_programme", schema=SCHEMA)
    op.drop_table("case_programme", schema=SCHEMA)
    op.drop_column("case_contact", "consent_withdrawn_at", schema=SCHEMA)
