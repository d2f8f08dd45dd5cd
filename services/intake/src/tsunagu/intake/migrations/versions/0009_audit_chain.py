"""The audit log becomes a hash chain (``tsunagu.shared.audit``): ``chain_seq``, ``prev_hash``,
``hash``; ``case_id`` as long as every service's.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.alter_column(
        "audit_log", "case_id", type_=sa.String(64), existing_type=sa.String(36), schema=SCHEMA
    )
    op.add_column("audit_log", sa.Column("chain_seq", sa.BigInteger()), schema=SCHEMA)
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64)), schema=SCHEMA)
    op.add_column("audit_log", sa.Column("hash", sa.String(64)), schema=SCHEMA)
    op.create_unique_constraint(
        "uq_audit_log_chain_seq", "audit_log", ["chain_seq"], schema=SCHEMA
    )
    op.create_index(
        "ix_audit_log_unchained",
        "audit_log",
        ["audit_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("hash IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_unchained", table_name="audit_log", schema=SCHEMA)
    op.drop_constraint("uq_audit_log_chain_seq", "audit_log", schema=SCHEMA)
    for column in ("hash", "prev_hash", "chain_seq"):
        op.drop_column("audit_log", column, schema=SCHEMA)
    op.alter_column(
        "audit_log", "case_id", type_=sa.String(36), existing_type=sa.String(64), schema=SCHEMA
    )
