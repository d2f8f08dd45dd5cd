"""Staff identity: token versions and ended sign-ins, forced password change, TOTP secrets,
and login delays per client address and per username instead of a lock per username.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tsunagu.shared.revocation import create_revocation_tables, drop_revocation_tables

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"


def upgrade() -> None:
    op.add_column(
        "staff_user",
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
        schema=SCHEMA,
    )
    op.add_column(
        "staff_user",
        sa.Column(
            "password_change_required", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        schema=SCHEMA,
    )
    op.add_column("staff_user", sa.Column("totp_secret", sa.String(255)), schema=SCHEMA)
    create_revocation_tables(SCHEMA)
    op.drop_table("login_failure", schema=SCHEMA)
    op.create_table(
        "login_delay",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_login_delay"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("login_delay", schema=SCHEMA)
    op.create_table(
        "login_failure",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("username", name="pk_login_failure"),
        schema=SCHEMA,
    )
    drop_revocation_tables(SCHEMA)
    for column in ("totp_secret", "password_change_required", "token_version"):
        op.drop_column("staff_user", column, schema=SCHEMA)
