"""Idempotency keys as every service keeps them (``tsunagu.shared.idempotency``): per staff
member, with the request's hash and its outcome (``{"case_id": ...}``).

Keys already stored keep working: each belongs to the staff member who took its case, and its
case becomes its outcome. A key whose case was never recorded cannot be replayed and is dropped.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column("idempotency_key", sa.Column("staff", sa.String(64)), schema=SCHEMA)
    op.add_column("idempotency_key", sa.Column("outcome", postgresql.JSONB()), schema=SCHEMA)
    op.execute(
        f'UPDATE "{SCHEMA}".idempotency_key k SET staff = c.taken_by, '
        "outcome = jsonb_build_object('case_id', k.case_id) "
        f'FROM "{SCHEMA}"."case" c WHERE c.case_id = k.case_id'
    )
    op.execute(f'DELETE FROM "{SCHEMA}".idempotency_key WHERE staff IS NULL')
    op.alter_column("idempotency_key", "staff", nullable=False, schema=SCHEMA)
    op.alter_column(
        "idempotency_key", "body_hash", new_column_name="request_hash", schema=SCHEMA
    )
    op.drop_column("idempotency_key", "case_id", schema=SCHEMA)
    op.drop_constraint("pk_idempotency_key", "idempotency_key", schema=SCHEMA)
    op.create_primary_key("pk_idempotency_key", "idempotency_key", ["staff", "key"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_constraint("pk_idempotency_key", "idempotency_key", schema=SCHEMA)
    # One key per request again: where two staff members used the same key, keep the first.
    op.execute(
        f'DELETE FROM "{SCHEMA}".idempotency_key a USING "{SCHEMA}".idempotency_key b '
        "WHERE a.key = b.key AND (a.created_at, a.staff) > (b.created_at, b.staff)"
    )
    op.create_primary_key("pk_idempotency_key", "idempotency_key", ["key"], schema=SCHEMA)
    op.add_column("idempotency_key", sa.Column("case_id", sa.String(36)), schema=SCHEMA)
    op.execute(f"UPDATE \"{SCHEMA}\".idempotency_key SET case_id = outcome ->> 'case_id'")
    op.alter_column(
        "idempotency_key", "request_hash", new_column_name="body_hash", schema=SCHEMA
    )
    op.drop_column("idempotency_key", "outcome", schema=SCHEMA)
    op.drop_column("idempotency_key", "staff", schema=SCHEMA)
