"""The desk's pushed stock: a change to an event's stock notifies ``tsunagu_stock_<schema>``
with the event id, at commit (``tsunagu.shared.change_feed``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"


def upgrade() -> None:
    # One notification per distinct payload per transaction: a handout wakes the event once.
    op.execute(
        f"""
        CREATE FUNCTION "{SCHEMA}".notify_stock_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(
                'tsunagu_stock_' || TG_TABLE_SCHEMA,
                COALESCE(NEW.event_id, OLD.event_id)::text
            );
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        f'CREATE TRIGGER notify_stock_changed AFTER INSERT OR UPDATE OR DELETE ON "{SCHEMA}".stock '
        f'FOR EACH ROW EXECUTE FUNCTION "{SCHEMA}".notify_stock_changed()'
    )


def downgrade() -> None:
    op.execute(f'DROP TRIGGER IF EXISTS notify_stock_changed ON "{SCHEMA}".stock')
    op.execute(f'DROP FUNCTION IF EXISTS "{SCHEMA}".notify_stock_changed()')
