"""Tombstones of erased cases; the furigana kept only sealed with the resident's key (ADR 12).

Furigana stored in plain text before this revision cannot be sealed here (the keys are intake's):
they are dropped, and those households are found by their case number.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tsunagu.shared.runtime import create_erased_case_table, drop_erased_case_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"



def upgrade() -> None:
    create_erased_case_table(SCHEMA)
    op.add_column("case_index", sa.Column("kana_sealed", sa.Text()), schema=SCHEMA)
    op.drop_index("ix_case_index_event_id_name_kana_key", "case_index", schema=SCHEMA)
    op.drop_column("case_index", "name_kana_key", schema=SCHEMA)
    op.drop_column("case_index", "name_kana", schema=SCHEMA)


def downgrade() -> None:
    op.add_column("case_index", sa.Column("name_kana", sa.String(200)), schema=SCHEMA)
    op.add_column("case_index", sa.Column("name_kana_key", sa.String(200)), schema=SCHEMA)
    op.create_index(
        "ix_case_index_event_id_name_kana_key",
        "case_index",
        ["event_id", "name_kana_key"],
        schema=SCHEMA,
    )
    op.drop_column("case_index", "kana_sealed", schema=SCHEMA)
    drop_erased_case_table(SCHEMA)
