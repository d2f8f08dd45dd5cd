"""Notify's own audit log (``tsunagu.shared.audit``): who opened which residents' letters and
call entries.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from tsunagu.shared.audit import create_audit_log

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "notify"


def upgrade() -> None:
    create_audit_log(SCHEMA)


def downgrade() -> None:
    op.drop_table("audit_log", schema=SCHEMA)
