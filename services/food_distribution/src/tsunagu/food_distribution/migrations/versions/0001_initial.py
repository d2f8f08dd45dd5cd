"""Initial food distribution schema: outbox, inbox, events, stock and its ledger, cases,
eligibility, handouts and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tsunagu.shared.messaging import create_inbox_table
from tsunagu.shared.outbox import create_outbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "food_distribution"
ID = 64
PARCEL_TYPES = "parcel_type IN ('standard', 'no_pork', 'allergy_friendly', 'infant')"
NOW = sa.text("now()")


def _id(name: str, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.String(ID), nullable=kw.pop("nullable", False), **kw)


def _at(name: str, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


def upgrade() -> None:
    # The outbox and inbox every service has (tsunagu.shared.outbox / messaging).
    create_outbox_table(SCHEMA)
    create_inbox_table(SCHEMA)

    op.create_table(
        "event",
        _id("event_id"),
        _id("venue_id"),
        sa.Column("held_on", sa.Date, nullable=False),
        _at("created_at", nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("event_id", name="pk_event"),
        schema=SCHEMA,
    )
    op.create_table(
        "case_index",
        _id("case_id"),
        _id("case_number"),
        _id("household_id"),
        _id("event_id"),
        sa.Column("name_kana", sa.String(200), nullable=True),
        sa.Column("name_kana_key", sa.String(200), nullable=True),
        _at("created_at", nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_index"),
        sa.ForeignKeyConstraint(
            ["event_id"], [f"{SCHEMA}.event.event_id"], name="fk_case_index_event_id_event"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_case_index_case_number", "case_index", ["case_number"], schema=SCHEMA)
    op.create_index("ix_case_index_household_id", "case_index", ["household_id"], schema=SCHEMA)
    op.create_index(
        "ix_case_index_event_id_name_kana_key",
        "case_index",
        ["event_id", "name_kana_key"],
        schema=SCHEMA,
    )

    op.create_table(
        "stock",
        _id("event_id"),
        sa.Column("parcel_type", sa.String(32), nullable=False),
        _id("venue_id"),
        sa.Column("quantity", sa.Integer, nullable=False, server_default=sa.text("0")),
        _at("updated_at", nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("event_id", "parcel_type", name="pk_stock"),
        sa.CheckConstraint("quantity >= 0", name="ck_stock_never_negative"),
        sa.CheckConstraint(PARCEL_TYPES, name="ck_stock_parcel_type"),
        sa.ForeignKeyConstraint(
            ["event_id"], [f"{SCHEMA}.event.event_id"], name="fk_stock_event_id_event"
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "stock_movement",
        sa.Column("movement_id", sa.BigInteger, sa.Identity(always=True), nullable=False),
        _id("event_id"),
        _id("venue_id"),
        sa.Column("parcel_type", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("delta", sa.Integer, nullable=False),
        sa.Column("balance_after", sa.Integer, nullable=False),
        sa.Column("source", sa.String(200), nullable=True),
        sa.Column("counterpart", sa.String(ID), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("handout_id", sa.String(36), nullable=True),
        _id("staff"),
        _at("created_at", nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("movement_id", name="pk_stock_movement"),
        sa.CheckConstraint(
            "kind IN ('receipt', 'transfer_in', 'transfer_out', 'adjustment', 'handout')",
            name="ck_stock_movement_kind",
        ),
        sa.CheckConstraint("balance_after >= 0", name="ck_stock_movement_balance_never_negative"),
        sa.ForeignKeyConstraint(
            ["event_id"], [f"{SCHEMA}.event.event_id"], name="fk_stock_movement_event_id_event"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_stock_movement_event_id_movement_id",
        "stock_movement",
        ["event_id", "movement_id"],
        schema=SCHEMA,
    )

    op.create_table(
        "eligibility",
        _id("case_id"),
        _id("household_id"),
        _id("event_id"),
        sa.Column("basis", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        _id("granted_by", nullable=True),
        _at("granted_at", nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("case_id", name="pk_eligibility"),
        sa.CheckConstraint("basis IN ('economic_concern', 'manual')", name="ck_eligibility_basis"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            [f"{SCHEMA}.case_index.case_id"],
            name="fk_eligibility_case_id_case_index",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_eligibility_household_id_event_id",
        "eligibility",
        ["household_id", "event_id"],
        schema=SCHEMA,
    )

    op.create_table(
        "handout",
        sa.Column("handout_id", sa.String(36), nullable=False),
        _id("case_id"),
        _id("household_id"),
        _id("event_id"),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("parcel_type", sa.String(32), nullable=False),
        _id("handed_out_by"),
        _at("handed_out_at", nullable=False),
        sa.PrimaryKeyConstraint("handout_id", name="pk_handout"),
        # Backs the per-household limit enforced under the household lock.
        sa.UniqueConstraint(
            "household_id", "event_id", "seq", name="uq_handout_household_id_event_id_seq"
        ),
        sa.CheckConstraint("seq >= 1", name="ck_handout_seq_positive"),
        sa.CheckConstraint(PARCEL_TYPES, name="ck_handout_parcel_type"),
        sa.ForeignKeyConstraint(
            ["case_id"], [f"{SCHEMA}.case_index.case_id"], name="fk_handout_case_id_case_index"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], [f"{SCHEMA}.event.event_id"], name="fk_handout_event_id_event"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_handout_event_id_handed_out_at", "handout", ["event_id", "handed_out_at"], schema=SCHEMA
    )
    op.create_index(
        "ix_handout_household_id_handed_out_at",
        "handout",
        ["household_id", "handed_out_at"],
        schema=SCHEMA,
    )

    op.create_table(
        "idempotency_key",
        _id("staff"),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("outcome", postgresql.JSONB, nullable=True),
        _at("created_at", nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("staff", "key", name="pk_idempotency_key"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "idempotency_key",
        "handout",
        "eligibility",
        "stock_movement",
        "stock",
        "case_index",
        "event",
        "inbox",
        "outbox",
    ):
        op.drop_table(table, schema=SCHEMA)
