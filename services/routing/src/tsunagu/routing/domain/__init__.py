"""The routing domain: case facts, the versioned rule set, decisions, deadlines, lifecycle.

Pure functions over plain data; no I/O. The public API is re-exported here.
"""

from .deadlines import (
    deadline_after_correction,
    deadline_for,
    is_business_day,
    is_overdue,
    next_business_day,
)
from .engine import Decision, ExternalReferral, decide
from .errors import (
    InvalidCaseFacts,
    InvalidTransition,
    RoutingDomainError,
    RuleSetError,
    UnknownConcernError,
)
from .facts import CaseFacts
from .lifecycle import (
    STAFF_ACTIONS,
    Action,
    allowed_actions,
    needs_escalation,
    next_after_decline,
    restore,
    staff_actions,
    transition,
    withdraw_for_consent,
)
from .reroute import WITHDRAWN_NOT_NEEDED, HeldReferral, Rerouting, reroute
from .ruleset import RuleSet, load_rules, rule_set_schema, rules_from_mapping

__all__ = [
    "STAFF_ACTIONS",
    "WITHDRAWN_CONSENT",
    "WITHDRAWN_NOT_NEEDED",
    "Action",
    "CaseFacts",
    "Decision",
    "ExternalReferral",
    "HeldReferral",
    "InvalidCaseFacts",
    "InvalidTransition",
    "Rerouting",
    "RoutingDomainError",
    "RuleSet",
    "RuleSetError",
    "UnknownConcernError",
    "allowed_actions",
    "deadline_after_correction",
    "deadline_for",
    "decide",
    "is_business_day",
    "is_overdue",
    "load_rules",
    "needs_escalation",
    "next_after_decline",
    "next_business_day",
    "reroute",
    "restore",
    "rule_set_schema",
    "rules_from_mapping",
    "staff_actions",
    "transition",
    "withdraw_for_consent",
]
