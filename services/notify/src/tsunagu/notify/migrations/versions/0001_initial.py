"""Notify's tables: outbox, inbox, case_contact, parked_event, delivery, delivery_attempt,
letter, phone_call, invitation_import, opt_out, dev_mail.

Revision ID: 0001
Revises:
Create Date: 2026-01-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tsunagu.shared.messaging import create_inbox_table
from tsunagu.shared.outbox import create_outbox_table
from tsunagu.shared.parking import create_parked_event_table

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "notify"
TZ = sa.DateTime(timezone=True)
JSONB = postgresql.JSONB()


def upgrade() -> None:
    # The outbox and inbox every service has (tsunagu.shared.runtime.ServiceTables).
    create_outbox_table(SCHEMA)
    create_inbox_table(SCHEMA)

    op.create_table(
        "case_contact",
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("contact_sealed", sa.Text()),
        sa.Column("channels", JSONB, nullable=False),
        sa.Column("contact_time", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("sharing_basis", sa.String(32), nullable=False),
        sa.Column("taken_by", sa.String(64)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_contact"),
        schema=SCHEMA,
    )
    create_parked_event_table(SCHEMA)

    op.create_table(
        "delivery",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("source_event_id", sa.String(64), nullable=False),
        sa.Column("recipient_kind", sa.String(32), nullable=False),
        sa.Column("recipient_ref", sa.String(128), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("channels", JSONB, nullable=False),
        sa.Column("channel_index", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(64)),
        sa.Column("urgent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("variables", JSONB, nullable=False),
        sa.Column("contact_sealed", sa.Text()),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("channel_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("not_before", TZ, nullable=False),
        sa.Column("next_attempt_at", TZ),
        sa.Column("lease_token", sa.String(36)),
        sa.Column("last_channel", sa.String(16)),
        sa.Column("last_error", sa.String(255)),
        sa.Column("sent_at", TZ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_delivery"),
        sa.UniqueConstraint("dedup_key", name="uq_delivery_dedup_key"),
        schema=SCHEMA,
    )
    op.create_index("ix_delivery_case_id", "delivery", ["case_id"], schema=SCHEMA)
    op.create_index("ix_delivery_status", "delivery", ["status"], schema=SCHEMA)
    op.create_index(
        "ix_delivery_due",
        "delivery",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('scheduled', 'transient_failure', 'sending')"),
    )
    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("error", sa.String(255)),
        sa.Column("reference", sa.String(255)),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempt"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            [f"{SCHEMA}.delivery.id"],
            name="fk_delivery_attempt_delivery_id_delivery",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_delivery_attempt_delivery_id", "delivery_attempt", ["delivery_id"], schema=SCHEMA
    )

    op.create_table(
        "letter",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(64)),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("document_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("posted_at", TZ),
        sa.Column("posted_by", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_letter"),
        sa.UniqueConstraint("delivery_id", name="uq_letter_delivery_id"),
        sa.ForeignKeyConstraint(
            ["delivery_id"], [f"{SCHEMA}.delivery.id"], name="fk_letter_delivery_id_delivery"
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "phone_call",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(64)),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("preferred_time", sa.String(16), nullable=False),
        sa.Column("interpreter_needed", sa.Boolean(), nullable=False),
        sa.Column("entry_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("done_at", TZ),
        sa.Column("done_by", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_phone_call"),
        sa.UniqueConstraint("delivery_id", name="uq_phone_call_delivery_id"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            [f"{SCHEMA}.delivery.id"],
            name="fk_phone_call_delivery_id_delivery",
        ),
        schema=SCHEMA,
    )

    op.create_table(
        "invitation_import",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("imported_by", sa.String(64), nullable=False),
        sa.Column("imported_at", TZ, nullable=False),
        sa.Column("scheduled", sa.Integer(), nullable=False),
        sa.Column("opted_out", sa.Integer(), nullable=False),
        sa.Column("errors", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_invitation_import"),
        schema=SCHEMA,
    )
    op.create_table(
        "opt_out",
        sa.Column("borrower_ref", sa.String(64), nullable=False),
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("borrower_ref", name="pk_opt_out"),
        schema=SCHEMA,
    )
    op.create_table(
        "dev_mail",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("received_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("mail_from", sa.String(255), nullable=False),
        sa.Column("rcpt_tos", JSONB, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(255)),
        sa.Column("content", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dev_mail"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "dev_mail",
        "opt_out",
        "invitation_import",
        "phone_call",
        "letter",
        "delivery_attempt",
        "delivery",
        "parked_event",
        "case_contact",
        "inbox",
        "outbox",
    ):
        op.drop_table(table, schema=SCHEMA)
