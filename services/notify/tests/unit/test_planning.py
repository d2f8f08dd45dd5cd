"""Who hears what: one event in, intents and recorded suppressions out."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tsunagu.notify.domain.planning import (
    WEBHOOK,
    Intent,
    PlanningContext,
    RecipientKind,
    ResidentContact,
    SuppressionReason,
    channels_for,
    dedup_key,
    plan,
    plan_withdrawal_confirmation,
    resident_channels,
)
from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.shared.contracts.codes import (
    Concern,
    ContactChannel,
    ContactTime,
    Language,
    ParcelType,
    Programme,
    ReferralRole,
    ReferralStatus,
)
from tsunagu.shared.contracts.food import StockLow
from tsunagu.shared.contracts.routing import (
    CaseRouted,
    ConsentWithdrawn,
    NotifyCaseRouted,
    NotifyReferral,
    NotifyReferralStatusChanged,
    Referral,
    ReferralCreated,
    ReferralEscalated,
    ReferralStatusChanged,
)

NIGHT = datetime(2025, 6, 2, 23, 0, tzinfo=TOKYO)  # a Monday, 23:00 in Tokyo
DAY = datetime(2025, 6, 2, 10, 0, tzinfo=TOKYO)
DEADLINE = datetime(2025, 6, 4, 8, 30, tzinfo=UTC)  # 17:30 Wednesday in Tokyo
CASE = "case-7f3a"
ALL_CHANNELS = frozenset(
    {ContactChannel.PHONE, ContactChannel.LETTER, ContactChannel.SMS, ContactChannel.EMAIL}
)


def context(**overrides: Any) -> PlanningContext:
    base = PlanningContext(
        event_id="evt-1",
        now=NIGHT,
        staff_url="https://tsunagu.example.jp/",
        council_name="川口市社会福祉協議会",
        council_phone="048-000-0000",
        resident=ResidentContact(CASE, frozenset({ContactChannel.SMS}), language=Language.VI),
        intake_staff="sato",
    )
    return replace(base, **overrides)


def referral_created(urgent: bool = False) -> dict[str, Any]:
    return ReferralCreated(
        case_id=CASE,
        case_number="2025-0142",
        event_id="ev-2025-06",
        referral_id="ref-1",
        programme=Programme.LIFE_INDEPENDENCE,
        role=ReferralRole.LEAD,
        urgent=urgent,
        deadline_at=DEADLINE,
        concerns=[Concern.INCOME_SHORTFALL, Concern.DV_ABUSE],
    ).model_dump(mode="json")


def status_changed(status: ReferralStatus) -> dict[str, Any]:
    """Routing's ``notify_referral_status_changed``: no reason, outcome or staff member."""
    return NotifyReferralStatusChanged(
        case_id=CASE,
        case_number="2025-0142",
        referral_id="ref-1",
        programme=Programme.CSW_PARTICIPATION,
        status=status,
        suggested_next=Programme.CSW_OUTREACH if status is ReferralStatus.DECLINED else None,
    ).model_dump(mode="json")


def case_routed() -> dict[str, Any]:
    """Routing's ``notify_case_routed``: no reason, agency, urgency or eligibility."""
    return NotifyCaseRouted(
        case_id=CASE,
        case_number="2025-0142",
        lead=Programme.LIFE_INDEPENDENCE,
        referrals=[
            NotifyReferral(
                referral_id="ref-2",
                programme=Programme.CSW_PARTICIPATION,
                role=ReferralRole.MEMBER,
                status=ReferralStatus.PENDING,
                deadline_at=DEADLINE + timedelta(days=5),
            ),
            NotifyReferral(
                referral_id="ref-1",
                programme=Programme.LIFE_INDEPENDENCE,
                role=ReferralRole.LEAD,
                status=ReferralStatus.PENDING,
                deadline_at=DEADLINE,
            ),
        ],
    ).model_dump(mode="json")


def original_case_routed() -> dict[str, Any]:
    """The ``case_routed`` on routing.case.v1 that ``case_routed()`` is the twin of."""
    return CaseRouted(
        case_id=CASE,
        case_number="2025-0142",
        event_id="ev-2025-06",
        rule_version="2025.1",
        lead=Programme.LIFE_INDEPENDENCE,
        compound=False,
        urgent=True,
        food_parcel_eligible=True,
        referrals=[
            Referral(
                referral_id=r["referral_id"],
                programme=r["programme"],
                role=r["role"],
                status=r["status"],
                deadline_at=r["deadline_at"],
                reasons=[{"code": "concern", "params": {"concern": "debt_arrears"}}],
            )
            for r in case_routed()["referrals"]
        ],
    ).model_dump(mode="json")


def only_intent(event_type: str, data: dict[str, Any], ctx: PlanningContext) -> Intent:
    result = plan(event_type, data, ctx)
    assert result.suppressed == []
    assert len(result.intents) == 1
    return result.intents[0]


def test_dedup_key_format() -> None:
    assert dedup_key("evt-1", "team:life_independence", "new_referral") == (
        "evt-1:team:life_independence:new_referral"
    )


def test_referral_created_alerts_the_team_at_once_even_at_night() -> None:
    intent = only_intent("referral_created", referral_created(urgent=True), context())
    assert intent.recipient_kind is RecipientKind.TEAM
    assert intent.recipient_ref == "life_independence"
    assert intent.template == "new_referral"
    assert intent.urgent is True
    assert intent.not_before == NIGHT
    assert intent.channels == (ContactChannel.EMAIL,)
    assert intent.language is Language.JA
    assert intent.case_id == CASE
    assert intent.dedup_key == "evt-1:team:life_independence:new_referral"
    assert intent.variables == {
        "case_number": "2025-0142",
        "case_url": "https://tsunagu.example.jp/cases/case-7f3a",
        "programme": "life_independence",
        "urgent": True,
        "role": "lead",
        "respond_by": "2025-06-04T08:30:00+00:00",
        "reasons": [],
    }


def test_a_team_with_a_chat_webhook_hears_there_first() -> None:
    ctx = context(webhook_teams=frozenset({Programme.LIFE_INDEPENDENCE}))
    intent = only_intent("referral_created", referral_created(), ctx)
    assert intent.channels == (WEBHOOK, ContactChannel.EMAIL)
    assert intent.urgent is False


def test_consent_withdrawn_tells_the_team() -> None:
    data = ConsentWithdrawn(
        case_id=CASE,
        case_number="2025-0142",
        programme=Programme.ELDERLY_SUPPORT,
        withdrawn_at=DEADLINE,
    ).model_dump(mode="json")
    intent = only_intent("consent_withdrawn", data, context())
    assert (intent.recipient_kind, intent.recipient_ref) == (RecipientKind.TEAM, "elderly_support")
    assert intent.template == "consent_withdrawn"
    assert intent.not_before == NIGHT


def test_escalation_goes_to_the_programme_supervisor() -> None:
    data = ReferralEscalated(
        case_id=CASE,
        case_number="2025-0142",
        referral_id="ref-1",
        programme=Programme.WELFARE_FUND,
        urgent=True,
        deadline_at=DEADLINE,
        escalated_at=DEADLINE + timedelta(minutes=1),
    ).model_dump(mode="json")
    intent = only_intent("referral_escalated", data, context())
    assert intent.recipient == "supervisor:welfare_fund"
    assert intent.template == "referral_escalated"
    assert intent.urgent is True
    assert intent.variables["deadline_at"] == "2025-06-04T08:30:00+00:00"


def test_a_decline_goes_back_to_the_intake_staff_who_took_the_case() -> None:
    intent = only_intent(
        "notify_referral_status_changed", status_changed(ReferralStatus.DECLINED), context()
    )
    assert intent.recipient == "intake_staff:sato"
    assert intent.template == "referral_declined"
    assert intent.variables["suggested_next"] == "csw_outreach"
    assert intent.not_before == NIGHT
    assert "reason" not in intent.variables  # free text stays in the staff UI


def test_a_decline_with_no_intake_staff_on_record_is_recorded_not_dropped() -> None:
    result = plan(
        "notify_referral_status_changed",
        status_changed(ReferralStatus.DECLINED),
        context(intake_staff=None),
    )
    assert result.intents == []
    [suppressed] = result.suppressed
    assert suppressed.reason is SuppressionReason.RECIPIENT_UNKNOWN
    assert suppressed.case_id == CASE


def test_acceptance_tells_the_resident_in_their_language_after_quiet_hours() -> None:
    intent = only_intent(
        "notify_referral_status_changed", status_changed(ReferralStatus.ACCEPTED), context()
    )
    assert intent.recipient == f"resident:{CASE}"
    assert intent.template == "programme_accepted"
    assert intent.language is Language.VI
    assert intent.channels == (ContactChannel.SMS,)
    assert intent.not_before == datetime(2025, 6, 3, 8, 0, tzinfo=TOKYO)
    assert intent.variables == {
        "case_number": "2025-0142",
        "programme": "csw_participation",
        "council_name": "川口市社会福祉協議会",
        "council_phone": "048-000-0000",
    }


def test_declines_and_closures_reach_the_coordinator_of_a_compound_case_too() -> None:
    ctx = context(coordinator=Programme.CSW_OUTREACH)
    for status, template in (
        (ReferralStatus.DECLINED, "referral_declined"),
        (ReferralStatus.CLOSED, "referral_closed"),
    ):
        result = plan("notify_referral_status_changed", status_changed(status), ctx)
        assert sorted((i.recipient, i.template) for i in result.intents) == [
            ("intake_staff:sato", template),
            ("team:csw_outreach", template),
        ]
        for intent in result.intents:
            # The reason and outcome are free text: they stay on the case page.
            assert set(intent.variables) <= {
                "case_number",
                "case_url",
                "programme",
                "suggested_next",
            }


def test_the_coordinator_is_not_told_of_its_own_decline() -> None:
    data = status_changed(ReferralStatus.DECLINED) | {"programme": "csw_outreach"}
    result = plan(
        "notify_referral_status_changed", data, context(coordinator=Programme.CSW_OUTREACH)
    )
    assert [i.recipient for i in result.intents] == ["intake_staff:sato"]


@pytest.mark.parametrize("status", [ReferralStatus.PENDING, ReferralStatus.IN_PROGRESS])
def test_other_status_changes_plan_nothing(status: ReferralStatus) -> None:
    result = plan("notify_referral_status_changed", status_changed(status), context())
    assert result.intents == [] and result.suppressed == []


def test_case_routed_acknowledges_with_the_lead_and_a_contact_date() -> None:
    resident = ResidentContact(CASE, ALL_CHANNELS, ContactTime.AFTERNOON, Language.JA_EASY)
    intent = only_intent("notify_case_routed", case_routed(), context(resident=resident, now=DAY))
    assert intent.template == "acknowledgement"
    assert intent.channels == (
        ContactChannel.EMAIL,
        ContactChannel.SMS,
        ContactChannel.LETTER,
        ContactChannel.PHONE,
    )
    assert intent.not_before == datetime(2025, 6, 2, 12, 0, tzinfo=TOKYO)  # afternoon
    assert intent.variables["programme"] == "life_independence"
    # Lead deadline 2025-06-04 (Tokyo) + 3 days promised for the call.
    assert intent.variables["contact_by"] == "2025-06-07"
    assert "case_url" not in intent.variables


def test_a_resident_who_chose_none_is_suppressed_as_do_not_contact() -> None:
    resident = ResidentContact(CASE, frozenset({ContactChannel.NONE}))
    result = plan("notify_case_routed", case_routed(), context(resident=resident))
    assert result.intents == []
    [suppressed] = result.suppressed
    assert suppressed.reason is SuppressionReason.DO_NOT_CONTACT
    assert suppressed.reason.value == "do_not_contact"
    assert suppressed.template == "acknowledgement"
    assert suppressed.dedup_key == f"evt-1:resident:{CASE}:acknowledgement"


def test_none_wins_over_any_other_channel() -> None:
    resident = ResidentContact(CASE, frozenset({ContactChannel.NONE, ContactChannel.EMAIL}))
    result = plan("notify_case_routed", case_routed(), context(resident=resident))
    assert [s.reason for s in result.suppressed] == [SuppressionReason.DO_NOT_CONTACT]
    assert result.intents == []


@pytest.mark.parametrize("safe", [None, ContactChannel.NONE, ContactChannel.LETTER])
def test_a_resident_at_risk_without_a_safe_channel_hears_nothing(
    safe: ContactChannel | None,
) -> None:
    # Every channel consented, a home address on file: still nothing. A letter is never safe.
    resident = ResidentContact(CASE, ALL_CHANNELS, at_risk=True, safe_channel=safe)
    result = plan("notify_case_routed", case_routed(), context(resident=resident))
    assert result.intents == []
    assert [s.reason for s in result.suppressed] == [SuppressionReason.NO_SAFE_CONTACT]


@pytest.mark.parametrize("safe", [ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.PHONE])
def test_a_resident_at_risk_is_reached_on_the_safe_channel_alone(safe: ContactChannel) -> None:
    resident = ResidentContact(CASE, ALL_CHANNELS, at_risk=True, safe_channel=safe)
    intent = only_intent("notify_case_routed", case_routed(), context(resident=resident))
    assert intent.channels == (safe,)  # no fallback to any other channel


def test_do_not_contact_wins_over_a_safe_channel() -> None:
    resident = ResidentContact(
        CASE, frozenset({ContactChannel.NONE}), at_risk=True, safe_channel=ContactChannel.SMS
    )
    result = plan("notify_case_routed", case_routed(), context(resident=resident))
    assert [s.reason for s in result.suppressed] == [SuppressionReason.DO_NOT_CONTACT]


@pytest.mark.parametrize(
    ("resident", "reason"),
    [
        (ResidentContact(CASE, frozenset()), SuppressionReason.NO_CONSENTED_CHANNEL),
        (None, SuppressionReason.CONTACT_UNKNOWN),
    ],
)
def test_residents_without_consented_channels_are_suppressed(
    resident: ResidentContact | None, reason: SuppressionReason
) -> None:
    result = plan(
        "notify_referral_status_changed",
        status_changed(ReferralStatus.ACCEPTED),
        context(resident=resident),
    )
    assert result.intents == []
    assert [s.reason for s in result.suppressed] == [reason]


def test_stock_low_names_the_venue_by_id_until_intake_has_named_it() -> None:
    data = StockLow(
        event_id="ev-2025-06",
        venue_id="venue-aeon",
        parcel_type=ParcelType.STANDARD,
        remaining=1,
        threshold=5,
    ).model_dump(mode="json")
    assert only_intent("stock_low", data, context()).variables["venue"] == "venue-aeon"


def test_stock_low_tells_the_food_desk_lead_of_the_event() -> None:
    data = StockLow(
        event_id="ev-2025-06",
        venue_id="venue-aeon",
        parcel_type=ParcelType.NO_PORK,
        remaining=3,
        threshold=10,
        venue_name="イオンモール川口",
    ).model_dump(mode="json")
    intent = only_intent("stock_low", data, context())
    assert intent.recipient == "food_lead:ev-2025-06"
    assert intent.case_id is None
    assert intent.not_before == NIGHT
    assert intent.variables == {
        "venue": "イオンモール川口",
        "parcel_type": "no_pork",
        "remaining": 3,
        "threshold": 10,
    }


def test_replaying_an_event_plans_the_same_keys() -> None:
    first = plan("notify_case_routed", case_routed(), context())
    again = plan("notify_case_routed", case_routed(), context(now=NIGHT + timedelta(hours=3)))
    assert [i.dedup_key for i in first.intents] == [i.dedup_key for i in again.intents]


def test_unknown_events_plan_nothing() -> None:
    result = plan("parcel_handed_out", {"case_id": CASE}, context())
    assert result.intents == [] and result.suppressed == []


def test_malformed_data_is_rejected_for_the_dead_letter_topic() -> None:
    data = referral_created()
    data["programme"] = "no_such_programme"
    with pytest.raises(ValidationError):
        plan("referral_created", data, context())


def test_resident_channel_order() -> None:
    assert resident_channels(frozenset({ContactChannel.PHONE, ContactChannel.SMS})) == (
        ContactChannel.SMS,
        ContactChannel.PHONE,
    )
    assert resident_channels(frozenset({ContactChannel.NONE, ContactChannel.SMS})) == ()


def test_after_a_withdrawal_only_the_confirmation_the_resident_asked_for_goes_out() -> None:
    resident = ResidentContact(
        CASE, ALL_CHANNELS, ContactTime.MORNING, Language.EN, consent_withdrawn=True
    )
    ctx = context(resident=resident, now=NIGHT)
    [intent] = plan_withdrawal_confirmation(CASE, "2025-0142", ctx).intents
    assert intent.template == "withdrawal_confirmed"
    assert intent.recipient == f"resident:{CASE}"
    assert intent.channels[0] is ContactChannel.EMAIL and intent.language is Language.EN
    assert intent.not_before > NIGHT  # quiet hours still apply
    assert intent.variables["case_number"] == "2025-0142" and "case_url" not in intent.variables
    # Everything else for this resident is suppressed as withdrawn.
    result = plan("notify_case_routed", case_routed(), ctx)
    assert result.intents == []
    assert result.suppressed[0].reason is SuppressionReason.CONSENT_WITHDRAWN
    assert channels_for(resident) == () and channels_for(resident, "programme_accepted") == ()


def test_the_confirmation_still_respects_do_not_contact_and_a_missing_safe_channel() -> None:
    for resident, reason in (
        (
            ResidentContact(CASE, frozenset({ContactChannel.NONE}), consent_withdrawn=True),
            SuppressionReason.DO_NOT_CONTACT,
        ),
        (
            ResidentContact(CASE, ALL_CHANNELS, at_risk=True, consent_withdrawn=True),
            SuppressionReason.NO_SAFE_CONTACT,
        ),
    ):
        result = plan_withdrawal_confirmation(CASE, "2025-0142", context(resident=resident))
        assert result.intents == []
        assert [s.reason for s in result.suppressed] == [reason]
    at_risk = ResidentContact(
        CASE, ALL_CHANNELS, at_risk=True, safe_channel=ContactChannel.SMS, consent_withdrawn=True
    )
    [intent] = plan_withdrawal_confirmation(CASE, "2025-0142", context(resident=at_risk)).intents
    assert intent.channels == (ContactChannel.SMS,)  # the safe channel alone


def test_originals_parked_before_notify_had_its_own_topic_plan_as_their_twins() -> None:
    """ADR 25: a ``case_routed`` or ``referral_status_changed`` from routing.case.v1, parked
    before the switch, is planned when its case arrives exactly as its twin would be."""
    resident = ResidentContact(CASE, frozenset({ContactChannel.EMAIL}))
    ctx = context(resident=resident, now=DAY)
    assert plan("case_routed", original_case_routed(), ctx) == plan(
        "notify_case_routed", case_routed(), ctx
    )
    original = ReferralStatusChanged(
        case_id=CASE,
        case_number="2025-0142",
        referral_id="ref-1",
        programme=Programme.CSW_PARTICIPATION,
        status=ReferralStatus.DECLINED,
        previous_status=ReferralStatus.PENDING,
        by="suzuki",
        reason="対象外",
        suggested_next=Programme.CSW_OUTREACH,
    ).model_dump(mode="json")
    ctx = context(coordinator=Programme.LIFE_INDEPENDENCE)
    twin = plan("notify_referral_status_changed", status_changed(ReferralStatus.DECLINED), ctx)
    assert plan("referral_status_changed", original, ctx) == twin
    assert len(twin.intents) == 2  # intake staff and the coordinator
