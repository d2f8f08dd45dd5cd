"""Routing's tables: one decision per case, one referral per (case, programme), their history.

Nothing here holds personal data: cases are known by their ids and codes; the free text staff
give with a decline or a close (``reason``, ``outcome``) is stored but never logged.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from tsunagu.shared.parking import parked_event_table
from tsunagu.shared.runtime import ServiceTables

SCHEMA = "routing"


class RoutingTables(ServiceTables):
    def __init__(self, schema: str = SCHEMA) -> None:
        super().__init__(schema)
        # One routing decision per case: the primary key is what makes a case routed once,
        # whatever reaches the consumer (a redelivery, a replay, a re-sent case_created).
        self.decision = Table(
            "decision",
            self.metadata,
            Column("case_id", String(64), primary_key=True),
            Column("case_number", String(64), nullable=False),
            # The consultation event (相談会) the case was taken in at, as in CaseCreated.
            Column("event_id", String(64), nullable=False),
            Column("rule_version", String(32), nullable=False),
            Column("urgent", Boolean, nullable=False),
            # The sharing basis routing currently shares on (updated by consent_changed).
            Column("sharing_basis", String(32), nullable=False),
            # What was decided on (codes, flags, age) and the decision with its reasons.
            Column("facts", JSONB, nullable=False),
            Column("decision", JSONB, nullable=False),
            Column("consent_withdrawn_at", DateTime(timezone=True)),
            # When intake made the facts and the consent routing holds (the events' time): an
            # older event arriving later (a replay of dead letters) never overwrites them.
            Column("facts_changed_at", DateTime(timezone=True)),
            Column("consent_changed_at", DateTime(timezone=True)),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
        )
        self.referral = Table(
            "referral",
            self.metadata,
            Column("referral_id", String(36), primary_key=True),
            Column("case_id", String(64), ForeignKey(self.decision.c.case_id), nullable=False),
            Column("programme", String(32), nullable=False),
            Column("role", String(16), nullable=False),
            Column("status", String(16), nullable=False),
            # Set when the programme receives the case (pending); null while suggested.
            Column("deadline_at", DateTime(timezone=True)),
            Column("reasons", JSONB, nullable=False),
            Column("reason", Text),
            Column("outcome", Text),
            # The reason's and outcome's codes (DeclineReason, ReferralOutcome), for reports.
            Column("reason_code", String(32)),
            Column("outcome_code", String(32)),
            Column("suggested_next", String(32)),
            Column("taken_by", String(64)),
            # When the programme received the case: who must hear of a consent withdrawal.
            Column("shared_at", DateTime(timezone=True)),
            Column("escalated_at", DateTime(timezone=True)),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            UniqueConstraint("case_id", "programme"),
            # What the deadline scanner claims.
            Index(
                "ix_referral_pending_deadline",
                "deadline_at",
                postgresql_where=text("status = 'pending'"),
            ),
            Index("ix_referral_programme_status", "programme", "status"),
        )
        # Every status change, and every response refused for the referral's status.
        self.referral_status_change = Table(
            "referral_status_change",
            self.metadata,
            Column("id", BigInteger, Identity(always=True), primary_key=True),
            Column(
                "referral_id",
                String(36),
                ForeignKey(self.referral.c.referral_id),
                nullable=False,
                index=True,
            ),
            Column("case_id", String(64), nullable=False),
            Column("programme", String(32), nullable=False),
            Column("action", String(16), nullable=False),
            Column("from_status", String(16)),
            Column("to_status", String(16), nullable=False),
            Column("applied", Boolean, nullable=False),
            Column("by", String(64), nullable=False),
            Column("reason", Text),
            Column("outcome", Text),
            Column("suggested_next", String(32)),
            # Why a response was refused (an invalid transition), in the lifecycle's words.
            Column("note", Text),
            # The event that caused the change; null for the deadline scanner.
            Column("cause_event_id", String(64)),
            Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        )
        # Events about a case not routed yet (intake's topics are not ordered with each other,
        # a case_created may be dead-lettered and replayed later): applied when it is routed.
        self.parked_event = parked_event_table(self.metadata)


tables = RoutingTables()
