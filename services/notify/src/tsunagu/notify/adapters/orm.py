"""Notify's tables: what it knows of each case, the deliveries it owes, and what it has done.

Residents' names and contact details are only ever stored sealed (``*_sealed`` columns, the
shared contact key), and opened when a message is sent or a letter or call sheet is shown.
``dev_mail`` and ``dev_sms`` are the dev mail catcher's and SMS sink's inboxes; they are empty
outside dev mode.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from tsunagu.shared.audit import audit_table
from tsunagu.shared.db import any_of
from tsunagu.shared.parking import parked_event_table
from tsunagu.shared.runtime import ServiceTables

SCHEMA = "notify"

#: Delivery statuses. ``sending`` is a claimed delivery under a sender's lease.
SCHEDULED = "scheduled"
SENDING = "sending"
SENT = "sent"
TRANSIENT_FAILURE = "transient_failure"
PERMANENT_FAILURE = "permanent_failure"
SUPPRESSED = "suppressed"
#: Statuses the sender claims once ``next_attempt_at`` has come.
DUE_STATUSES = (SCHEDULED, TRANSIENT_FAILURE, SENDING)


def _tz() -> DateTime:
    return DateTime(timezone=True)


class NotifyTables(ServiceTables):
    def __init__(self, schema: str = SCHEMA) -> None:
        super().__init__(schema)
        # What notify needs to reach a resident and the staff who took the case in.
        self.case_contact = Table(
            "case_contact",
            self.metadata,
            Column("case_id", String(64), primary_key=True),
            Column("case_number", String(64), nullable=False),
            # {name, name_kana, phone, email, address}, sealed by intake; opened only to send.
            Column("contact_sealed", Text),
            Column("channels", JSONB, nullable=False),  # ContactChannel codes consented to
            Column("contact_time", String(16), nullable=False),
            Column("language", String(16), nullable=False),
            Column("sharing_basis", String(32), nullable=False),
            Column("taken_by", String(64)),
            # Someone at home may be a danger: only safe_channel, never a letter (0002).
            Column("at_risk", Boolean, nullable=False, server_default=text("false")),
            Column("safe_channel", String(16)),
            # The coordinator of a compound case (routing's notify_case_routed): told of declines and
            # closures (0005).
            Column("coordinator", String(32)),
            # When intake made the consent (and contact) held here: an older event never
            # overwrites it, whatever the order of arrival (0004).
            Column("consent_updated_at", _tz()),
            # Set when consent to sharing is withdrawn, cleared when a basis is given again
            # (0007): the resident is contacted no further meanwhile.
            Column("consent_withdrawn_at", _tz()),
            Column("created_at", _tz(), nullable=False),
            Column("updated_at", _tz(), nullable=False),
        )
        # Which programmes hold which case, from routing's events (0003): programme members
        # see the deliveries of those cases only (the status codes of tsunagu.shared codes; 0007).
        self.case_programme = Table(
            "case_programme",
            self.metadata,
            Column("case_id", String(64), primary_key=True),
            Column("programme", String(32), primary_key=True),
            Column("status", String(16), nullable=False),
            Column("updated_at", _tz(), nullable=False),
            Index("ix_case_programme_programme", "programme"),
        )
        # An event about a case notify has not heard of yet (topics are not ordered with
        # each other, a contact_case_created may be dead-lettered and replayed later): planned
        # or applied when the case's contact_case_created arrives (tsunagu.shared.parking).
        self.parked_event = parked_event_table(self.metadata)
        # One message owed to one recipient, or the recorded decision not to send it.
        self.delivery = Table(
            "delivery",
            self.metadata,
            Column("id", String(36), primary_key=True),
            # (event, recipient, template): the same event twice makes one delivery.
            Column("dedup_key", String(255), nullable=False, unique=True),
            Column("source_event_id", String(64), nullable=False),
            Column("recipient_kind", String(32), nullable=False),
            Column("recipient_ref", String(128), nullable=False),  # never an address
            Column("template", String(64), nullable=False),
            Column("channels", JSONB, nullable=False),  # fallback order
            Column("channel_index", Integer, nullable=False, server_default=text("0")),
            Column("language", String(16), nullable=False),
            Column("case_id", String(64), index=True),
            Column("urgent", Boolean, nullable=False, server_default=text("false")),
            Column("variables", JSONB, nullable=False),  # template variables, no personal data
            # Invitations only: the borrower's contact from the imported list, sealed.
            Column("contact_sealed", Text),
            Column("status", String(24), nullable=False),
            Column("reason", String(64)),  # why suppressed
            Column("attempts", Integer, nullable=False, server_default=text("0")),
            Column("channel_attempts", Integer, nullable=False, server_default=text("0")),
            Column("not_before", _tz(), nullable=False),
            Column("next_attempt_at", _tz()),
            Column("lease_token", String(36)),
            # The status a ``sending`` delivery was claimed or handed over from: what it goes
            # back to if the sender never saw its lease through (ADR 29).
            Column("claimed_from", String(32)),
            Column("last_channel", String(16)),
            Column("last_error", String(255)),
            Column("sent_at", _tz()),
            Column("created_at", _tz(), nullable=False),
            Column("updated_at", _tz(), nullable=False),
            # What the sender claims.
            Index(
                "ix_delivery_due",
                "next_attempt_at",
                postgresql_where=text("status IN ('scheduled', 'transient_failure', 'sending')"),
            ),
            Index("ix_delivery_status", "status"),
        )
        # Every attempt on every channel: what staff and notify.delivery.v1 see.
        self.delivery_attempt = Table(
            "delivery_attempt",
            self.metadata,
            Column("id", BigInteger, Identity(always=True), primary_key=True),
            Column(
                "delivery_id",
                String(36),
                ForeignKey(self.delivery.c.id),
                nullable=False,
                index=True,
            ),
            Column("attempt", Integer, nullable=False),
            Column("channel", String(16), nullable=False),
            Column("status", String(24), nullable=False),
            Column("error", String(255)),  # a code such as smtp_550 5.1.1, never server text
            Column("reference", String(255)),  # Message-ID or idempotency token
            Column("at", _tz(), nullable=False),
        )
        # Letters for staff to print and post.
        self.letter = Table(
            "letter",
            self.metadata,
            Column("id", String(36), primary_key=True),
            Column(
                "delivery_id",
                String(36),
                ForeignKey(self.delivery.c.id),
                nullable=False,
                unique=True,
            ),
            Column("case_id", String(64)),
            Column("template", String(64), nullable=False),
            Column("language", String(16), nullable=False),
            Column("document_sealed", Text, nullable=False),  # {"html": print-ready A4}
            Column("created_at", _tz(), nullable=False),
            Column("posted_at", _tz()),
            Column("posted_by", String(64)),
        )
        # Calls for staff to make, with their script.
        self.phone_call = Table(
            "phone_call",
            self.metadata,
            Column("id", String(36), primary_key=True),
            Column(
                "delivery_id",
                String(36),
                ForeignKey(self.delivery.c.id),
                nullable=False,
                unique=True,
            ),
            Column("case_id", String(64)),
            Column("template", String(64), nullable=False),
            Column("language", String(16), nullable=False),
            Column("preferred_time", String(16), nullable=False),
            Column("interpreter_needed", Boolean, nullable=False),
            Column("entry_sealed", Text, nullable=False),  # {"phone", "name", "script"}
            Column("created_at", _tz(), nullable=False),
            Column("done_at", _tz()),
            Column("done_by", String(64)),
        )
        # Each invitation list imported, with the rows it refused (line, column, message).
        self.invitation_import = Table(
            "invitation_import",
            self.metadata,
            Column("id", String(36), primary_key=True),
            Column("event_id", String(64), nullable=False),
            Column("imported_by", String(64), nullable=False),
            Column("imported_at", _tz(), nullable=False),
            Column("scheduled", Integer, nullable=False),
            Column("opted_out", Integer, nullable=False),
            Column("errors", JSONB, nullable=False),
        )
        # Borrowers who asked not to be invited: honoured by every later import.
        self.opt_out = Table(
            "opt_out",
            self.metadata,
            Column("borrower_ref", String(64), primary_key=True),
            Column("import_id", String(36), nullable=False),
            Column("recorded_at", _tz(), nullable=False),
        )
        # The dev mail catcher's mailbox (dev mode only).
        self.dev_mail = Table(
            "dev_mail",
            self.metadata,
            Column("id", BigInteger, Identity(always=True), primary_key=True),
            Column("received_at", _tz(), nullable=False, server_default=func.now()),
            Column("mail_from", String(255), nullable=False),
            Column("rcpt_tos", JSONB, nullable=False),
            Column("subject", Text, nullable=False),
            Column("message_id", String(255)),
            Column("content", Text, nullable=False),  # the raw message
        )
        # The dev SMS sink's inbox (dev mode only, migration 0003).
        self.dev_sms = Table(
            "dev_sms",
            self.metadata,
            Column("id", BigInteger, Identity(always=True), primary_key=True),
            Column("received_at", _tz(), nullable=False, server_default=func.now()),
            Column("to_number", String(32), nullable=False),  # E.164
            Column("body", Text, nullable=False),
            Column("idempotency_key", String(64), nullable=False, unique=True),
        )
        # Who opened which residents' letters and call entries (hash-chained; ADR 13).
        self.audit_log = audit_table(self.metadata)


tables = NotifyTables()


@cache
def cases_by_id(table: Table) -> Select[Any]:
    """The ``case_contact`` rows of the cases ``:ids``: built once per table, then taken from
    SQLAlchemy's compiled cache at every batch (ADR 22)."""
    return select(table).where(any_of(table.c.case_id, "ids"))
