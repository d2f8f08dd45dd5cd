"""One documented example of every event's data, as its producer publishes it.

Each service's AsyncAPI document shows these under its messages, and the consumer contract
tests feed every example a producer documents to each consumer of the topic. Built through the
contract models, so an example that stops matching its model fails at import.
"""

from __future__ import annotations

from typing import Any

from tsunagu.shared.contracts import food, intake, notify, routing
from tsunagu.shared.contracts.registry import EVENT_MODELS

_CASE = "case-7f3a9c2e"
_REF = "3f1c2a9e-8d0b-4c55-9a71-2f3e4d5c6b7a"
_AT = "2026-06-01T10:30:00+09:00"
_FACTS: dict[str, Any] = {
    "concerns": ["income_shortfall", "isolation"],
    "most_pressing": "income_shortfall",
    "age": 78,
    "lives_alone": True,
    "urgent": {"no_food_today": False, "eviction_within_7_days": False},
}
_CONSENT: dict[str, Any] = {
    "share_across_programmes": True,
    "basis": "consent",
    "contact_channels": ["phone", "letter"],
    "contact_time": "afternoon",
    "language": "ja",
}
_REASONS = [
    {"code": "concern", "params": {"concern": "income_shortfall"}},
    {"code": "lead_most_pressing", "params": {"concern": "income_shortfall"}},
]
_REFERRAL: dict[str, Any] = {
    "referral_id": _REF,
    "programme": "life_independence",
    "role": "lead",
    "status": "pending",
    "deadline_at": "2026-06-03T10:30:00+09:00",
    "reasons": _REASONS,
    "allowed_actions": ["accept", "decline"],
}
_DECISION: dict[str, Any] = {
    "case_id": _CASE,
    "case_number": "K-2026-0142",
    "event_id": "2026-06-aeon-kawaguchi",
    "rule_version": "2026.1",
    "lead": "life_independence",
    "coordinator": None,
    "compound": False,
    "urgent": False,
    "food_parcel_eligible": True,
    "awaiting_consent": [],
    "external": [],
}

_RAW: dict[str, dict[str, Any]] = {
    intake.CASE_CREATED: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "event_id": "2026-06-aeon-kawaguchi",
        "venue_id": "aeon-kawaguchi",
        "venue_name": "イオンモール川口",
        "household_id": "hh-51c0",
        "resident_id": "res-9d2e",
        "taken_by": "uketsuke",
        "facts": _FACTS,
        "consent": _CONSENT,
        "contact_sealed": "gAAAAAB...sealed",
        "created_at": _AT,
    },
    intake.CASE_UPDATED: {
        "case_id": _CASE,
        "facts": {**_FACTS, "concerns": ["income_shortfall", "isolation", "disability"]},
        "updated_by": "uketsuke",
    },
    intake.CONSENT_CHANGED: {
        "case_id": _CASE,
        "consent": _CONSENT,
        "previous_basis": "none",
        "changed_by": "uketsuke",
    },
    intake.RESIDENT_ERASED: {
        "case_id": _CASE,
        "resident_id": "res-9d2e",
        "erased_at": _AT,
        "basis": "request",
    },
    intake.CONTACT_CASE_CREATED: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "taken_by": "uketsuke",
        "consent": _CONSENT,
        "contact_sealed": "rk1:res-9d2e:contact:gAAAAAB...sealed",
        "created_at": _AT,
    },
    # A withdrawal the resident asked to have confirmed.
    intake.CONTACT_CONSENT_CHANGED: {
        "case_id": _CASE,
        "consent": {**_CONSENT, "share_across_programmes": False, "basis": "none"},
        "previous_basis": "consent",
        "contact_sealed": "rk1:res-9d2e:contact:gAAAAAB...sealed",
        "confirmation_requested": True,
    },
    intake.REFERRAL_RESPONSE_SUBMITTED: {
        "case_id": _CASE,
        "referral_id": _REF,
        "programme": "life_independence",
        "action": "accept",
        "staff": "life_independence",
    },
    intake.REFERRAL_REQUESTED: {
        "case_id": _CASE,
        "programme": "csw_outreach",
        "requested_by": "uketsuke",
        "after_referral_id": _REF,
    },
    # An admin deactivated the account: every token issued before version 3 is refused.
    intake.STAFF_SESSIONS_REVOKED: {
        "username": "uketsuke",
        "version": 3,
        "expires_at": _AT,
    },
    routing.CASE_ROUTED: {**_DECISION, "referrals": [_REFERRAL]},
    routing.CASE_REROUTED: {
        **_DECISION,
        "referrals": [
            _REFERRAL,
            {
                **_REFERRAL,
                "referral_id": "5b2d7e10-1f4a-4e0b-8c3d-6a9b0c1d2e3f",
                "programme": "disability_support",
                "role": "member",
                "reasons": [{"code": "concern", "params": {"concern": "disability"}}],
            },
        ],
        "added": ["5b2d7e10-1f4a-4e0b-8c3d-6a9b0c1d2e3f"],
        "withdrawn": [],
    },
    routing.NOTIFY_CASE_ROUTED: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "lead": "life_independence",
        "coordinator": None,
        "referrals": [
            {k: v for k, v in _REFERRAL.items() if k not in ("reasons", "allowed_actions")}
        ],
    },
    routing.NOTIFY_CASE_REROUTED: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "lead": "life_independence",
        "coordinator": None,
        "referrals": [
            {k: v for k, v in _REFERRAL.items() if k not in ("reasons", "allowed_actions")},
            {
                "referral_id": "5b2d7e10-1f4a-4e0b-8c3d-6a9b0c1d2e3f",
                "programme": "disability_support",
                "role": "member",
                "status": "pending",
                "deadline_at": "2026-06-03T10:30:00+09:00",
            },
        ],
    },
    routing.NOTIFY_REFERRAL_STATUS_CHANGED: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "referral_id": _REF,
        "programme": "life_independence",
        "status": "accepted",
    },
    routing.REFERRAL_CREATED: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "event_id": "2026-06-aeon-kawaguchi",
        "referral_id": _REF,
        "programme": "life_independence",
        "role": "lead",
        "urgent": False,
        "deadline_at": "2026-06-03T10:30:00+09:00",
        "concerns": ["income_shortfall", "isolation"],
        "reasons": _REASONS,
        "allowed_actions": ["accept", "decline"],
        "concerns_scope": "case",
    },
    routing.REFERRAL_STATUS_CHANGED: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "referral_id": _REF,
        "programme": "life_independence",
        "status": "accepted",
        "previous_status": "pending",
        "by": "life_independence",
        "taken_by": "life_independence",
        "allowed_actions": ["start"],
    },
    routing.REFERRAL_ESCALATED: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "referral_id": _REF,
        "programme": "life_independence",
        "urgent": False,
        "deadline_at": "2026-06-03T10:30:00+09:00",
        "escalated_at": "2026-06-03T10:31:00+09:00",
        "allowed_actions": ["accept", "decline"],
    },
    routing.CONSENT_WITHDRAWN: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "programme": "life_independence",
        "withdrawn_at": _AT,
    },
    routing.FOOD_CASE_ROUTED: {
        "case_id": _CASE,
        "case_number": "K-2026-0142",
        "event_id": "2026-06-aeon-kawaguchi",
        "venue_id": "aeon-kawaguchi",
        "venue_name": "イオンモール川口",
        "household_id": "hh-51c0",
        "created_at": _AT,
        "kana_sealed": "rk1:res-9d2e:kana:gAAAAAB...sealed",
        "food_parcel_eligible": True,
        "rule_version": "2026.1",
    },
    routing.FOOD_CASE_REROUTED: {
        "case_id": _CASE,
        "food_parcel_eligible": True,
        "rule_version": "2026.1",
    },
    routing.FOOD_CONSENT_WITHDRAWN: {"case_id": _CASE, "withdrawn_at": _AT},
    food.ELIGIBILITY_GRANTED: {
        "case_id": _CASE,
        "household_id": "hh-51c0",
        "event_id": "2026-06-aeon-kawaguchi",
        "basis": "economic_concern",
        "reason": "振り分けの判断で配布対象（ルール 2026.1）",
    },
    food.PARCEL_HANDED_OUT: {
        "handout_id": "8c9d0e1f-2a3b-4c5d-9e6f-7a8b9c0d1e2f",
        "case_id": _CASE,
        "household_id": "hh-51c0",
        "event_id": "2026-06-aeon-kawaguchi",
        "parcel_type": "no_pork",
        "handed_out_by": "food",
        "handed_out_at": _AT,
    },
    food.STOCK_LOW: {
        "event_id": "2026-06-aeon-kawaguchi",
        "venue_id": "aeon-kawaguchi",
        "venue_name": "イオンモール川口",
        "parcel_type": "standard",
        "remaining": 4,
        "threshold": 5,
    },
    food.HOUSEHOLD_LINKED: {
        "case_id": _CASE,
        "event_id": "2026-06-aeon-kawaguchi",
        "moved_household_id": "hh-51c0",
        "joined_household_id": "hh-7e42",
        "linked_at": _AT,
    },
    notify.DELIVERY_ATTEMPTED: {
        "delivery_id": "d-1",
        "case_id": _CASE,
        "dedup_key": "evt-1:resident:case-7f3a9c2e:acknowledgement",
        "recipient_kind": "resident",
        "channel": "letter",
        "template": "acknowledgement",
        "status": "sent",
        "attempt": 1,
        "at": _AT,
    },
}

#: event type -> example data (JSON-ready), each validated by its contract model.
EXAMPLES: dict[str, dict[str, Any]] = {
    event: EVENT_MODELS[event].model_validate(data).model_dump(mode="json")
    for event, data in _RAW.items()
}
