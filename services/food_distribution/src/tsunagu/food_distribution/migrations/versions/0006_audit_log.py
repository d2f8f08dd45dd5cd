"""The desk's own audit log (``tsunagu.shared.audit``): who saw which households' cases.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from tsunagu.shared.audit import create_audit_log

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"


def upgrade() -> None:
    create_audit_log(SCHEMA)


def downgrade() -> None:
    op.drop_table("audit_log", schema=SCHEMA)
