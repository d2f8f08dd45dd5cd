"""Envelopes as intake, routing and food distribution publish them, for fresh test cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tsunagu.shared.contracts import food, intake, routing
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.crypto import ContactSealer
from tsunagu.shared.settings import Settings

DEADLINE = datetime(2025, 6, 4, 8, 30, tzinfo=UTC)


def new_case() -> tuple[str, str]:
    """A fresh case id and case number, unique in the whole test session."""
    suffix = uuid.uuid4().hex[:10]
    return f"case-{suffix}", f"T-{suffix}"


def _envelope(event_type: str, producer: str, data: Any) -> Envelope:
    return Envelope(event_type=event_type, producer=producer, data=data.model_dump(mode="json"))


def case_created(
    settings: Settings,
    case_id: str,
    case_number: str,
    *,
    channels: list[str],
    email: str | None = None,
    phone: str | None = None,
    address: str | None = None,
    name: str = "山田 花子",
    language: str = "ja",
    contact_time: str = "any",
    taken_by: str = "sato",
    concerns: tuple[str, ...] = ("income_shortfall",),
    at_risk: bool = False,
    safe_channel: str | None = None,
) -> Envelope:
    sealer = ContactSealer(settings.sealing_key())
    contact = {
        "name": name,
        "name_kana": "ヤマダ ハナコ",
        "phone": phone,
        "email": email,
        "address": address,
    }
    data = intake.CaseCreated(
        case_id=case_id,
        case_number=case_number,
        event_id="ev-2025-06-aeon",
        venue_id="aeon-kawaguchi",
        household_id=f"hh-{case_id}",
        resident_id=f"r-{case_id}",
        taken_by=taken_by,
        facts=intake.CaseFacts(concerns=list(concerns)),
        consent=intake.Consent(
            share_across_programmes=True,
            basis="consent",
            contact_channels=channels,
            contact_time=contact_time,
            language=language,
            at_risk=at_risk,
            safe_channel=safe_channel,
        ),
        contact_sealed=sealer.seal(contact),
        created_at=datetime(2025, 6, 2, 5, 0, tzinfo=UTC),
    )
    return _envelope(intake.CASE_CREATED, "intake", data)


def case_routed(
    case_id: str,
    case_number: str,
    lead: str = "life_independence",
    coordinator: str | None = None,
) -> Envelope:
    data = routing.CaseRouted(
        case_id=case_id,
        case_number=case_number,
        event_id="ev-2025-06-aeon",
        rule_version="test",
        lead=lead,
        coordinator=coordinator,
        compound=coordinator is not None,
        urgent=False,
        food_parcel_eligible=True,
        referrals=[
            routing.Referral(
                referral_id=str(uuid.uuid4()),
                programme=lead,
                role="lead",
                status="pending",
                deadline_at=DEADLINE,
            )
        ],
    )
    return _envelope(routing.CASE_ROUTED, "routing", data)


def referral_created(
    case_id: str, case_number: str, programme: str = "life_independence", urgent: bool = False
) -> Envelope:
    data = routing.ReferralCreated(
        case_id=case_id,
        case_number=case_number,
        event_id="ev-2025-06-aeon",
        referral_id=str(uuid.uuid4()),
        programme=programme,
        role="lead",
        urgent=urgent,
        deadline_at=DEADLINE + timedelta(days=1),
        concerns=["income_shortfall"],
    )
    return _envelope(routing.REFERRAL_CREATED, "routing", data)


def referral_status_changed(
    case_id: str, case_number: str, status: str, programme: str = "life_independence"
) -> Envelope:
    data = routing.ReferralStatusChanged(
        case_id=case_id,
        case_number=case_number,
        referral_id=str(uuid.uuid4()),
        programme=programme,
        status=status,
        previous_status="pending",
        by="tanaka",
    )
    return _envelope(routing.REFERRAL_STATUS_CHANGED, "routing", data)


def stock_low(event_id: str, venue_id: str) -> Envelope:
    data = food.StockLow(
        event_id=event_id, venue_id=venue_id, parcel_type="infant", remaining=1, threshold=3
    )
    return _envelope(food.STOCK_LOW, "food_distribution", data)
