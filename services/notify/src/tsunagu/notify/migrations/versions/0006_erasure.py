"""Tombstones of erased cases: their events are ignored from now on (ADR 12).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tsunagu.shared.runtime import create_erased_case_table, drop_erased_case_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = "notify"



def upgrade() -> None:
    create_erased_case_table(SCHEMA)


def downgrade() -> None:
    drop_erased_case_table(SCHEMA)
