"""Live pages: a change to a case, its referrals, its routing or its food eligibility notifies
``tsunagu_changed_<schema>`` with the case id (``adapters.change_feed``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "intake"
TABLES = ("case", "referral", "case_routing", "food_eligibility")


def upgrade() -> None:
    # PostgreSQL delivers one notification per distinct payload per transaction, at commit.
    op.execute(
        f"""
        CREATE FUNCTION "{SCHEMA}".notify_case_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(
                'tsunagu_changed_' || TG_TABLE_SCHEMA,
                COALESCE(NEW.case_id, OLD.case_id)::text
            );
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f'CREATE TRIGGER notify_case_changed AFTER INSERT OR UPDATE OR DELETE ON "{SCHEMA}"."{table}" '
            f'FOR EACH ROW EXECUTE FUNCTION "{SCHEMA}".notify_case_changed()'
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f'DROP TRIGGER IF EXISTS notify_case_changed ON "{SCHEMA}"."{table}"')
    op.execute(f'DROP FUNCTION IF EXISTS "{SCHEMA}".notify_case_changed()')
