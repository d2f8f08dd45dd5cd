"""Envelopes as intake, routing and food distribution publish them, for fresh test cases:
intake's and routing's on notify's own topics (``intake.contact.v1``, ``routing.notify.v1``,
ADR 25), food's on ``food.v1``."""

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
    data = intake.ContactCaseCreated(
        case_id=case_id,
        case_number=case_number,
        taken_by=taken_by,
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
    return _envelope(intake.CONTACT_CASE_CREATED, "intake", data)


def case_routed(
    case_id: str,
    case_number: str,
    lead: str = "life_independence",
    coordinator: str | None = None,
) -> Envelope:
    data = routing.NotifyCaseRouted(
        case_id=case_id,
        case_number=case_number,
        lead=lead,
        coordinator=coordinator,
        referrals=[
            routing.NotifyReferral(
                referral_id=str(uuid.uuid4()),
                programme=lead,
                role="lead",
                status="pending",
                deadline_at=DEADLINE,
            )
        ],
    )
    return _envelope(routing.NOTIFY_CASE_ROUTED, "routing", data)


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
    data = routing.NotifyReferralStatusChanged(
        case_id=case_id,
        case_number=case_number,
        referral_id=str(uuid.uuid4()),
        programme=programme,
        status=status,
    )
    return _envelope(routing.NOTIFY_REFERRAL_STATUS_CHANGED, "routing", data)


def stock_low(event_id: str, venue_id: str) -> Envelope:
    data = food.StockLow(
        event_id=event_id, venue_id=venue_id, parcel_type="infant", remaining=1, threshold=3
    )
    return _envelope(food.STOCK_LOW, "food_distribution", data)
