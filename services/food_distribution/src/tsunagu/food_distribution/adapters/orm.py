"""Food distribution's tables: events, stock rows and their ledger, the case index, handouts.

The ``stock`` row of an (event, parcel type) is the one place its balance lives, so every
movement locks it (``SELECT ... FOR UPDATE``) and a CHECK keeps it from going negative; the
``stock_movement`` ledger records each change with its time and staff member.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)

from tsunagu.shared.audit import audit_table
from tsunagu.shared.contracts.codes import ParcelType
from tsunagu.shared.idempotency import idempotency_key_table
from tsunagu.shared.parking import parked_event_table
from tsunagu.shared.runtime import ServiceTables

SCHEMA = "food_distribution"
ID = 64  # width of every id column (case, household, event, venue, staff)

_PARCEL_TYPES = ", ".join(f"'{t.value}'" for t in ParcelType)
_KINDS = "'receipt', 'transfer_in', 'transfer_out', 'adjustment', 'handout'"


class FoodTables(ServiceTables):
    def __init__(self, schema: str = SCHEMA) -> None:
        super().__init__(schema)
        m = self.metadata

        # A consultation event as the desk knows it: learned from case_created or a receipt.
        self.event = Table(
            "event",
            m,
            Column("event_id", String(ID), primary_key=True),
            Column("venue_id", String(ID), nullable=False),
            #: The venue's display name, from intake's case_created (None until one names it).
            Column("venue_name", String(100)),
            Column("held_on", Date, nullable=False),
            Column(
                "created_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
        )

        # Only what a handout needs: ids, the case number and the furigana to find the household,
        # sealed with the resident's ``kana`` key (ADR 12).
        self.case_index = Table(
            "case_index",
            m,
            Column("case_id", String(ID), primary_key=True),
            Column("case_number", String(ID), nullable=False),
            Column("household_id", String(ID), nullable=False),
            Column("event_id", String(ID), ForeignKey("event.event_id"), nullable=False),
            Column("kana_sealed", Text),
            Column("created_at", DateTime(timezone=True), nullable=False),
            #: When routing's word of a consent withdrawal was made: an older grant is ignored.
            Column("withdrawn_at", DateTime(timezone=True)),
            Index(None, "case_number"),
            Index(None, "household_id"),
        )

        self.stock = Table(
            "stock",
            m,
            Column("event_id", String(ID), ForeignKey("event.event_id"), primary_key=True),
            Column("parcel_type", String(32), primary_key=True),
            Column("venue_id", String(ID), nullable=False),
            Column("quantity", Integer, nullable=False, server_default=text("0")),
            Column(
                "updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            CheckConstraint("quantity >= 0", name="never_negative"),
            CheckConstraint(f"parcel_type IN ({_PARCEL_TYPES})", name="parcel_type"),
        )

        self.stock_movement = Table(
            "stock_movement",
            m,
            Column("movement_id", BigInteger, Identity(always=True), primary_key=True),
            Column("event_id", String(ID), ForeignKey("event.event_id"), nullable=False),
            Column("venue_id", String(ID), nullable=False),
            Column("parcel_type", String(32), nullable=False),
            Column("kind", String(16), nullable=False),
            # Positive for every kind but adjustment, which is signed (the domain's Movement).
            Column("quantity", Integer, nullable=False),
            Column("delta", Integer, nullable=False),
            Column("balance_after", Integer, nullable=False),
            Column("source", String(200)),
            Column("counterpart", String(ID)),
            Column("reason", String(500)),
            Column("handout_id", String(36)),
            Column("staff", String(ID), nullable=False),
            Column(
                "created_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            CheckConstraint(f"kind IN ({_KINDS})", name="kind"),
            CheckConstraint("balance_after >= 0", name="balance_never_negative"),
            Index(None, "event_id", "movement_id"),
        )

        self.eligibility = Table(
            "eligibility",
            m,
            Column("case_id", String(ID), ForeignKey("case_index.case_id"), primary_key=True),
            Column("household_id", String(ID), nullable=False),
            Column("event_id", String(ID), nullable=False),
            Column("basis", String(32), nullable=False),
            Column("reason", String(500), nullable=False),
            Column("granted_by", String(ID)),
            Column(
                "granted_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            CheckConstraint("basis IN ('economic_concern', 'manual')", name="basis"),
            Index(None, "household_id", "event_id"),
        )

        self.handout = Table(
            "handout",
            m,
            Column("handout_id", String(36), primary_key=True),
            Column("case_id", String(ID), ForeignKey("case_index.case_id"), nullable=False),
            Column("household_id", String(ID), nullable=False),
            Column("event_id", String(ID), ForeignKey("event.event_id"), nullable=False),
            # n-th parcel of this household at this event: with the unique constraint below, two
            # racing desks cannot both record the same parcel, whatever the per-event limit.
            Column("seq", Integer, nullable=False),
            Column("parcel_type", String(32), nullable=False),
            Column("handed_out_by", String(ID), nullable=False),
            Column("handed_out_at", DateTime(timezone=True), nullable=False),
            UniqueConstraint("household_id", "event_id", "seq"),
            CheckConstraint("seq >= 1", name="seq_positive"),
            CheckConstraint(f"parcel_type IN ({_PARCEL_TYPES})", name="parcel_type"),
            Index(None, "event_id", "handed_out_at"),
            Index(None, "household_id", "handed_out_at"),
        )

        # An event about a case food has not heard of yet (its case_created dead-lettered
        # and replayed later): applied when the case arrives (0003).
        self.parked_event = parked_event_table(m)

        # Outcome of a POST /handouts or a desk form per (staff, Idempotency-Key): a retry
        # gets the same answer (tsunagu.shared.idempotency).
        self.idempotency_key = idempotency_key_table(m)

        # Who saw which cases at the desk (hash-chained, tsunagu.shared.audit; ADR 13).
        self.audit_log = audit_table(m)


tables = FoodTables()
