"""Ended staff sign-ins, kept from intake's staff_sessions_revoked (tsunagu.shared.revocation).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

from tsunagu.shared.revocation import create_revocation_tables, drop_revocation_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "routing"


def upgrade() -> None:
    create_revocation_tables(SCHEMA)


def downgrade() -> None:
    drop_revocation_tables(SCHEMA)

