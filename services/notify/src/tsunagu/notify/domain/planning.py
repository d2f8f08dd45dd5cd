"""Who hears what: turns one event into the messages it causes, or the reasons it causes none.

``plan`` is pure: the clock, the envelope's event id and what notify knows about the case (the
resident's contact consent, who took the case in) arrive in a ``PlanningContext`` built by the
service layer. ``data`` is validated against the event's contract model
(``tsunagu.shared.contracts.routing`` / ``food``); a ``pydantic.ValidationError`` means the
message can never apply and belongs in the dead-letter topic.

| event                   | recipient (ref)                     | template           | when        |
|-------------------------|-------------------------------------|--------------------|-------------|
| referral_created        | team (programme), urgent marked     | new_referral       | at once     |
| consent_withdrawn       | team (programme)                    | consent_withdrawn  | at once     |
| referral_escalated      | supervisor (programme)              | referral_escalated | at once     |
| notify_referral_        | declined: intake staff (username),  | referral_declined  | at once     |
|   status_changed        |   and the case's coordinator (team) |                    |             |
|                         | closed: the same two                | referral_closed    | at once     |
|                         | accepted: resident (case id)        | programme_accepted | quiet hours |
| notify_case_routed      | resident (case id)                  | acknowledgement    | quiet hours |
| stock_low               | food desk lead (consultation event) | stock_low          | at once     |
| contact_consent_changed | resident (case id), on a withdrawal | withdrawal_        | quiet hours |
|   (intake)              |   they asked to have confirmed      |   confirmed        |             |

After a withdrawal of consent the resident is contacted no further (``consent_withdrawn``),
apart from the confirmation of that withdrawal when they asked for it: the one template in
``AFTER_WITHDRAWAL``. "Do not contact", being at risk without a safe channel, and quiet hours
still apply to it.

Every message is an ``Intent``; every message that must not go out is a ``Suppressed``
decision, kept so that nothing is dropped silently. Any other event type plans nothing.

Intent variables are JSON-safe (dates as ISO strings) and never hold personal data: resident
templates also need ``resident_name``, which the service layer adds from its contact store
when it renders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from tsunagu.notify.domain.quiet_hours import TOKYO, send_time
from tsunagu.shared.contracts.codes import (
    ContactChannel,
    ContactTime,
    Language,
    Programme,
    ReferralStatus,
)
from tsunagu.shared.contracts.food import StockLow
from tsunagu.shared.contracts.routing import (
    ConsentWithdrawn,
    NotifyCaseRouted,
    NotifyReferralStatusChanged,
    ReferralCreated,
    ReferralEscalated,
)

#: Staff-only channel: a team's chat room. Residents are never contacted through it.
WEBHOOK: Literal["webhook"] = "webhook"
DeliveryChannel = ContactChannel | Literal["webhook"]

#: Residents' channels in order of preference. Written channels come first: the resident
#: reads them when it suits them and keeps a record. Email carries the full text and a
#: Message-ID for de-duplication; SMS reaches phones without email; a letter reaches everyone
#: with an address but takes days. A phone call comes last because it costs staff time and
#: interrupts; it is still the channel for residents who chose nothing else.
RESIDENT_CHANNEL_ORDER: tuple[ContactChannel, ...] = (
    ContactChannel.EMAIL,
    ContactChannel.SMS,
    ContactChannel.LETTER,
    ContactChannel.PHONE,
)


class RecipientKind(StrEnum):
    TEAM = "team"  # ref: programme code
    SUPERVISOR = "supervisor"  # ref: programme code
    INTAKE_STAFF = "intake_staff"  # ref: staff username
    RESIDENT = "resident"  # ref: case id
    FOOD_LEAD = "food_lead"  # ref: consultation event id (the food desk of that event)


#: The channels that can be safe for a resident at risk: they reach the resident's own phone or
#: mailbox. A letter goes to the home address, which may be where the danger is: never safe.
SAFE_CHANNELS = frozenset({ContactChannel.EMAIL, ContactChannel.SMS, ContactChannel.PHONE})


class SuppressionReason(StrEnum):
    DO_NOT_CONTACT = "do_not_contact"  # the resident chose "none"
    CONSENT_WITHDRAWN = "consent_withdrawn"  # consent to sharing withdrawn: no further contact
    NO_SAFE_CONTACT = "no_safe_contact"  # at risk, and staff recorded no safe channel
    NO_CONSENTED_CHANNEL = "no_consented_channel"
    CONTACT_UNKNOWN = "contact_unknown"  # notify holds no consent record for the case
    RECIPIENT_UNKNOWN = "recipient_unknown"  # no intake staff recorded on the case


@dataclass(frozen=True)
class ResidentContact:
    """How a resident agreed to be contacted (``intake.Consent``): codes only, no details."""

    case_id: str
    channels: frozenset[ContactChannel]
    preferred_time: ContactTime = ContactTime.ANY
    language: Language = Language.JA
    #: Someone at home may be a danger (``intake.Consent.at_risk``): only ``safe_channel``.
    at_risk: bool = False
    safe_channel: ContactChannel | None = None
    #: Consent to sharing was withdrawn (and not given again): contacted no further.
    consent_withdrawn: bool = False


@dataclass(frozen=True)
class PlanningContext:
    event_id: str  # the envelope's event id: the root of every dedup key
    now: datetime
    staff_url: str  # base URL of the staff UI; links are ``{staff_url}/cases/{case_id}``
    council_name: str
    council_phone: str  # the council's public number, quoted to residents
    resident: ResidentContact | None = None
    intake_staff: str | None = None  # username of who took the case in (``taken_by``)
    #: The coordinator of a compound case (routing's ``case_routed``): told of declines and
    #: closures of the other programmes' referrals.
    coordinator: Programme | None = None
    webhook_teams: frozenset[Programme] = frozenset()  # teams with a chat webhook
    #: The acknowledgement promises contact within this many days after the lead
    #: programme's acceptance deadline (acceptance comes first, then the call).
    contact_promise_days: int = 3


@dataclass(frozen=True)
class Intent:
    """One message to one recipient. ``channels`` is a fallback order: the first that works."""

    recipient_kind: RecipientKind
    recipient_ref: str
    template: str
    channels: tuple[DeliveryChannel, ...]
    language: Language
    not_before: datetime
    dedup_key: str
    case_id: str | None = None
    urgent: bool = False
    variables: Mapping[str, Any] = field(default_factory=dict)

    @property
    def recipient(self) -> str:
        return recipient_id(self.recipient_kind, self.recipient_ref)


@dataclass(frozen=True)
class Suppressed:
    """A message decided against, kept as the record of that decision."""

    recipient_kind: RecipientKind
    recipient_ref: str
    template: str
    reason: SuppressionReason
    dedup_key: str
    case_id: str | None = None


@dataclass(frozen=True)
class Plan:
    intents: list[Intent] = field(default_factory=list)
    suppressed: list[Suppressed] = field(default_factory=list)


def recipient_id(kind: RecipientKind, ref: str) -> str:
    return f"{kind.value}:{ref}"


def dedup_key(event_id: str, recipient: str, template: str) -> str:
    """The same event, recipient and template always give the same key: replays send nothing."""
    return f"{event_id}:{recipient}:{template}"


def resident_channels(
    consented: frozenset[ContactChannel],
    *,
    at_risk: bool = False,
    safe_channel: ContactChannel | None = None,
) -> tuple[ContactChannel, ...]:
    """The channels a resident may be reached on, in order of preference; none at all if
    "none" was chosen.

    A resident at risk is reached on the one safe channel staff recorded and on nothing else:
    no fallback (a failed SMS must not become a letter), never a letter, and nothing at all
    when there is no safe channel.
    """
    if ContactChannel.NONE in consented:
        return ()
    if at_risk:
        return (safe_channel,) if safe_channel in SAFE_CHANNELS else ()
    return tuple(c for c in RESIDENT_CHANNEL_ORDER if c in consented)


#: The resident's confirmation of their own withdrawal, sent only when they asked for it.
WITHDRAWAL_CONFIRMED = "withdrawal_confirmed"
#: The only messages a resident still gets after withdrawing consent.
AFTER_WITHDRAWAL = frozenset({WITHDRAWAL_CONFIRMED})


def _withdrawn_for(resident: ResidentContact, template: str | None) -> bool:
    return resident.consent_withdrawn and template not in AFTER_WITHDRAWAL


def why_unreachable(resident: ResidentContact, template: str | None = None) -> SuppressionReason:
    """Why ``channels_for`` gave nothing for this resident (and this message)."""
    if _withdrawn_for(resident, template):
        return SuppressionReason.CONSENT_WITHDRAWN
    if ContactChannel.NONE in resident.channels:
        return SuppressionReason.DO_NOT_CONTACT
    if resident.at_risk:
        return SuppressionReason.NO_SAFE_CONTACT
    return SuppressionReason.NO_CONSENTED_CHANNEL


def channels_for(
    resident: ResidentContact, template: str | None = None
) -> tuple[ContactChannel, ...]:
    """The channels this resident may be reached on now with ``template``: none after a
    consent withdrawal, unless it is the confirmation they asked for (``AFTER_WITHDRAWAL``)."""
    if _withdrawn_for(resident, template):
        return ()
    return resident_channels(
        resident.channels, at_risk=resident.at_risk, safe_channel=resident.safe_channel
    )


def plan(event_type: str, data: Mapping[str, Any], context: PlanningContext) -> Plan:
    """The messages ``event_type`` causes, and the ones it would cause but must not."""
    planner = _PLANNERS.get(event_type)
    return planner(data, context) if planner else Plan()


# --- one planner per event type ---------------------------------------------------------


def _on_referral_created(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    e = ReferralCreated.model_validate(data)
    variables = {
        **_case_variables(e.case_id, e.case_number, ctx),
        "programme": e.programme.value,
        "urgent": e.urgent,
        "role": e.role.value,
        "respond_by": e.deadline_at.isoformat(),
        # Routing's reasons as data; the message renders them in its language.
        "reasons": [r.model_dump(mode="json") for r in e.reasons],
    }
    return Plan([_team_intent(e.programme, "new_referral", variables, ctx, e.case_id, e.urgent)])


def _on_consent_withdrawn(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    e = ConsentWithdrawn.model_validate(data)
    variables = {**_case_variables(e.case_id, e.case_number, ctx), "programme": e.programme.value}
    return Plan([_team_intent(e.programme, "consent_withdrawn", variables, ctx, e.case_id)])


def _on_referral_escalated(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    e = ReferralEscalated.model_validate(data)
    variables = {
        **_case_variables(e.case_id, e.case_number, ctx),
        "programme": e.programme.value,
        "urgent": e.urgent,
        "deadline_at": e.deadline_at.isoformat(),
    }
    kind = RecipientKind.SUPERVISOR
    intent = _staff_intent(
        kind, e.programme.value, "referral_escalated", variables, ctx, e.case_id, urgent=e.urgent
    )
    return Plan([intent])


def _on_referral_status_changed(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    e = NotifyReferralStatusChanged.model_validate(data)
    variables = {**_case_variables(e.case_id, e.case_number, ctx), "programme": e.programme.value}
    if e.status in (ReferralStatus.DECLINED, ReferralStatus.CLOSED):
        # Whoever must find the case its next step: the intake staff member who took it in,
        # and the coordinator of a compound case (unless the coordinator itself answered).
        declined = e.status is ReferralStatus.DECLINED
        template = "referral_declined" if declined else "referral_closed"
        # The reason and outcome are staff's free text, which may name the resident: they
        # stay on the case page, the message only points there.
        if declined:
            suggested = e.suggested_next.value if e.suggested_next else None
            variables = {**variables, "suggested_next": suggested}
        result = Plan()
        kind = RecipientKind.INTAKE_STAFF
        if ctx.intake_staff:
            staff = _staff_intent(kind, ctx.intake_staff, template, variables, ctx, e.case_id)
            result.intents.append(staff)
        else:
            reason = SuppressionReason.RECIPIENT_UNKNOWN
            result.suppressed.append(_suppressed(kind, "", template, reason, ctx, e.case_id))
        if ctx.coordinator is not None and ctx.coordinator is not e.programme:
            result.intents.append(
                _team_intent(ctx.coordinator, template, variables, ctx, e.case_id)
            )
        return result
    if e.status is ReferralStatus.ACCEPTED:
        return _resident_plan("programme_accepted", variables, ctx, e.case_id)
    return Plan()


def _on_case_routed(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    e = NotifyCaseRouted.model_validate(data)
    lead_deadline = next(
        (r.deadline_at for r in e.referrals if r.programme is e.lead and r.deadline_at), None
    )
    start = (lead_deadline or ctx.now).astimezone(TOKYO).date()
    variables = {
        **_case_variables(e.case_id, e.case_number, ctx),
        "programme": e.lead.value,
        "contact_by": (start + timedelta(days=ctx.contact_promise_days)).isoformat(),
    }
    return _resident_plan("acknowledgement", variables, ctx, e.case_id)


def _on_stock_low(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    e = StockLow.model_validate(data)
    variables = {
        "venue": e.venue_name or e.venue_id,
        "parcel_type": e.parcel_type.value,
        "remaining": e.remaining,
        "threshold": e.threshold,
    }
    kind = RecipientKind.FOOD_LEAD
    return Plan([_staff_intent(kind, e.event_id, "stock_low", variables, ctx, case_id=None)])


def plan_withdrawal_confirmation(case_id: str, case_number: str, ctx: PlanningContext) -> Plan:
    """The resident withdrew consent and asked to be told it was done: one message to them
    (``ctx.resident`` already holds the withdrawal). Nothing else is planned for them."""
    variables = _case_variables(case_id, case_number, ctx)
    return _resident_plan(WITHDRAWAL_CONFIRMED, variables, ctx, case_id)


_PLANNERS: dict[str, Callable[[Mapping[str, Any], PlanningContext], Plan]] = {
    "referral_created": _on_referral_created,
    "consent_withdrawn": _on_consent_withdrawn,
    "referral_escalated": _on_referral_escalated,
    "notify_referral_status_changed": _on_referral_status_changed,
    "notify_case_routed": _on_case_routed,
    "stock_low": _on_stock_low,
    # Their originals on routing.case.v1, which notify read before it had its own topic (ADR
    # 25): still planned when parked then (a twin's fields are its original's).
    "referral_status_changed": _on_referral_status_changed,
    "case_routed": _on_case_routed,
}


# --- helpers ----------------------------------------------------------------------------


def _team_intent(
    programme: Programme,
    template: str,
    variables: dict[str, Any],
    ctx: PlanningContext,
    case_id: str,
    urgent: bool = False,
) -> Intent:
    channels: tuple[DeliveryChannel, ...] = (ContactChannel.EMAIL,)
    if programme in ctx.webhook_teams:
        channels = (WEBHOOK, ContactChannel.EMAIL)
    kind = RecipientKind.TEAM
    return _staff_intent(kind, programme.value, template, variables, ctx, case_id, channels, urgent)


def _staff_intent(
    kind: RecipientKind,
    ref: str,
    template: str,
    variables: dict[str, Any],
    ctx: PlanningContext,
    case_id: str | None,
    channels: tuple[DeliveryChannel, ...] = (ContactChannel.EMAIL,),
    urgent: bool = False,
) -> Intent:
    # Staff are not bound by quiet hours: their messages go out at once.
    return Intent(
        recipient_kind=kind,
        recipient_ref=ref,
        template=template,
        channels=channels,
        language=Language.JA,
        not_before=ctx.now,
        dedup_key=dedup_key(ctx.event_id, recipient_id(kind, ref), template),
        case_id=case_id,
        urgent=urgent,
        variables=variables,
    )


def _resident_plan(
    template: str, case_variables: dict[str, Any], ctx: PlanningContext, case_id: str
) -> Plan:
    kind = RecipientKind.RESIDENT
    resident = ctx.resident
    if resident is None:
        reason = SuppressionReason.CONTACT_UNKNOWN
    elif not channels_for(resident, template):
        reason = why_unreachable(resident, template)
    else:
        # Residents get no staff link; they get the council's number to call instead.
        variables = {k: v for k, v in case_variables.items() if k != "case_url"}
        variables |= {"council_name": ctx.council_name, "council_phone": ctx.council_phone}
        intent = Intent(
            recipient_kind=kind,
            recipient_ref=case_id,
            template=template,
            channels=channels_for(resident, template),
            language=resident.language,
            not_before=send_time(ctx.now, resident.preferred_time),
            dedup_key=dedup_key(ctx.event_id, recipient_id(kind, case_id), template),
            case_id=case_id,
            variables=variables,
        )
        return Plan([intent])
    return Plan(suppressed=[_suppressed(kind, case_id, template, reason, ctx, case_id)])


def _suppressed(
    kind: RecipientKind,
    ref: str,
    template: str,
    reason: SuppressionReason,
    ctx: PlanningContext,
    case_id: str,
) -> Suppressed:
    return Suppressed(
        recipient_kind=kind,
        recipient_ref=ref,
        template=template,
        reason=reason,
        dedup_key=dedup_key(ctx.event_id, recipient_id(kind, ref), template),
        case_id=case_id,
    )


def _case_variables(case_id: str, case_number: str, ctx: PlanningContext) -> dict[str, Any]:
    return {
        "case_number": case_number,
        "case_url": f"{ctx.staff_url.rstrip('/')}/cases/{case_id}",
    }
