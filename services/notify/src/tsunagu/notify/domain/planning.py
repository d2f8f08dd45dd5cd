"""Who hears what: turns one event into the messages it causes, or the reasons it causes none.

``plan`` is pure: the clock, the event id and what notify knows about the case (the resident's
contact preferences, who took the case in) arrive in a ``PlanningContext`` built by the service
layer. Every message is an ``Intent``; every message that must not be sent is a ``Suppressed``
decision, recorded so that nothing is dropped silently.

| event (``data`` keys read)                    | recipient                   | template           |
|-----------------------------------------------|-----------------------------|--------------------|
| referral_created (case_id, programme,         | team of the programme       | new_referral       |
|   [case_number, urgent, role, deadline_at])   |   (urgent marked, at once)  |                    |
| consent_withdrawn (case_id, programme)        | team of the programme       | consent_withdrawn  |
| referral_escalated (case_id, programme,       | supervisor of the programme | referral_escalated |
|   [deadline_at, urgent])                      |                             |                    |
| referral_status_changed (case_id, programme,  | declined: intake staff who  | referral_declined  |
|   status)                                     |   took the case             |                    |
|                                               | accepted: the resident      | programme_accepted |
| case_routed (case_id, lead_programme,         | the resident                | acknowledgement    |
|   contact_by)                                 |                             |                    |
| stock_low (venue_id, parcel_type, remaining,  | food desk lead of the venue | stock_low          |
|   threshold, [venue_name])                    |                             |                    |

Keys in brackets are optional; ``case_number`` (the number staff and residents quote) falls
back to ``case_id``. Any other event type plans nothing.

Intent variables never contain personal data: resident templates also need ``resident_name``,
which the service layer adds from its contact store when it renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from tsunagu.notify.domain.quiet_hours import send_time
from tsunagu.shared.contracts.codes import (
    ContactChannel,
    ContactTime,
    Language,
    ParcelType,
    Programme,
    ReferralRole,
    ReferralStatus,
)

_E = TypeVar("_E", bound=StrEnum)

#: Staff-only channel: a team's chat room. Residents are never contacted through it.
WEBHOOK: Literal["webhook"] = "webhook"
DeliveryChannel = ContactChannel | Literal["webhook"]

#: Residents' channels in order of preference. Written channels come first: the resident
#: reads them when it suits them and keeps a record. Email carries the full text and a
#: Message-ID for de-duplication; SMS reaches phones without email; a letter reaches everyone
#: with an address but takes days. A phone call comes last because it costs staff time and
#: interrupts; it is still the only channel for residents who chose nothing else.
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
    FOOD_LEAD = "food_lead"  # ref: venue id


class SuppressionReason(StrEnum):
    DO_NOT_CONTACT = "do_not_contact"  # the resident chose "none"
    NO_CONSENTED_CHANNEL = "no_consented_channel"
    CONTACT_UNKNOWN = "contact_unknown"  # notify holds no contact record for the case
    RECIPIENT_UNKNOWN = "recipient_unknown"  # e.g. no intake staff recorded on the case


class MalformedEvent(ValueError):
    """The event lacks data its message needs; the consumer sends it to the dead-letter topic."""


@dataclass(frozen=True)
class ResidentContact:
    """How a resident agreed to be contacted. Only codes: the details stay in the contact store."""

    case_id: str
    channels: frozenset[ContactChannel]
    preferred_time: ContactTime = ContactTime.ANY
    language: Language = Language.JA


@dataclass(frozen=True)
class PlanningContext:
    event_id: str
    now: datetime
    staff_url: str  # base URL of the staff UI; links are ``{staff_url}/cases/{case_id}``
    council_name: str
    council_phone: str  # the council's public phone number, quoted to residents
    resident: ResidentContact | None = None
    intake_staff: str | None = None  # username of the staff member who took the case in
    webhook_teams: frozenset[Programme] = frozenset()  # teams with a chat webhook


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
    """A message that was decided against, kept as a record of the decision."""

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


def resident_channels(consented: frozenset[ContactChannel]) -> tuple[ContactChannel, ...]:
    """The consented channels in order of preference; empty if "none" was chosen."""
    if ContactChannel.NONE in consented:
        return ()
    return tuple(c for c in RESIDENT_CHANNEL_ORDER if c in consented)


def plan(event_type: str, data: Mapping[str, Any], context: PlanningContext) -> Plan:
    """The messages ``event_type`` causes, and the ones it would have caused but must not."""
    planner = _PLANNERS.get(event_type)
    return planner(data, context) if planner else Plan()


# --- one planner per event type ---------------------------------------------------------


def _on_referral_created(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    programme = _programme(data, "programme")
    role = data.get("role")
    urgent = bool(data.get("urgent", False))
    variables = {
        **_case_variables(data, ctx),
        "programme": programme.value,
        "urgent": urgent,
        "role": _code(ReferralRole, role, "role").value if role else None,
        "respond_by": data.get("deadline_at"),
    }
    return Plan([_team_intent(programme, "new_referral", variables, ctx, data, urgent=urgent)])


def _on_consent_withdrawn(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    programme = _programme(data, "programme")
    variables = {**_case_variables(data, ctx), "programme": programme.value}
    return Plan([_team_intent(programme, "consent_withdrawn", variables, ctx, data)])


def _on_referral_escalated(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    programme = _programme(data, "programme")
    variables = {
        **_case_variables(data, ctx),
        "programme": programme.value,
        "urgent": bool(data.get("urgent", False)),
        "deadline_at": data.get("deadline_at"),
    }
    kind, template = RecipientKind.SUPERVISOR, "referral_escalated"
    return Plan([_staff_intent(kind, programme.value, template, variables, ctx, _case_id(data))])


def _on_referral_status_changed(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    programme = _programme(data, "programme")
    status = _code(ReferralStatus, _require(data, "status"), "status")
    variables = {**_case_variables(data, ctx), "programme": programme.value}
    if status is ReferralStatus.DECLINED:
        kind, template = RecipientKind.INTAKE_STAFF, "referral_declined"
        if not ctx.intake_staff:
            reason = SuppressionReason.RECIPIENT_UNKNOWN
            return Plan(suppressed=[_suppressed(kind, "unknown", template, reason, ctx, data)])
        intent = _staff_intent(kind, ctx.intake_staff, template, variables, ctx, _case_id(data))
        return Plan([intent])
    if status is ReferralStatus.ACCEPTED:
        return _resident_plan("programme_accepted", _resident_variables(variables, ctx), ctx, data)
    return Plan()


def _on_case_routed(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    variables = {
        **_case_variables(data, ctx),
        "programme": _programme(data, "lead_programme").value,
        "contact_by": _require(data, "contact_by"),
    }
    return _resident_plan("acknowledgement", _resident_variables(variables, ctx), ctx, data)


def _on_stock_low(data: Mapping[str, Any], ctx: PlanningContext) -> Plan:
    venue_id = str(_require(data, "venue_id"))
    variables = {
        "venue": data.get("venue_name") or venue_id,
        "parcel_type": _code(ParcelType, _require(data, "parcel_type"), "parcel_type").value,
        "remaining": _require(data, "remaining"),
        "threshold": _require(data, "threshold"),
    }
    kind = RecipientKind.FOOD_LEAD
    return Plan([_staff_intent(kind, venue_id, "stock_low", variables, ctx, case_id=None)])


_PLANNERS = {
    "referral_created": _on_referral_created,
    "consent_withdrawn": _on_consent_withdrawn,
    "referral_escalated": _on_referral_escalated,
    "referral_status_changed": _on_referral_status_changed,
    "case_routed": _on_case_routed,
    "stock_low": _on_stock_low,
}


# --- helpers ----------------------------------------------------------------------------


def _team_intent(
    programme: Programme,
    template: str,
    variables: dict[str, Any],
    ctx: PlanningContext,
    data: Mapping[str, Any],
    *,
    urgent: bool = False,
) -> Intent:
    channels: tuple[DeliveryChannel, ...] = (ContactChannel.EMAIL,)
    if programme in ctx.webhook_teams:
        channels = (WEBHOOK, ContactChannel.EMAIL)
    kind = RecipientKind.TEAM
    return _staff_intent(
        kind, programme.value, template, variables, ctx, _case_id(data), channels, urgent
    )


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
    # Staff are not bound by quiet hours: a message for them goes out at once.
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
    template: str, variables: dict[str, Any], ctx: PlanningContext, data: Mapping[str, Any]
) -> Plan:
    case_id = _case_id(data)
    kind = RecipientKind.RESIDENT
    resident = ctx.resident
    if resident is None:
        reason = SuppressionReason.CONTACT_UNKNOWN
    elif ContactChannel.NONE in resident.channels:
        reason = SuppressionReason.DO_NOT_CONTACT
    elif not resident_channels(resident.channels):
        reason = SuppressionReason.NO_CONSENTED_CHANNEL
    else:
        intent = Intent(
            recipient_kind=kind,
            recipient_ref=case_id,
            template=template,
            channels=resident_channels(resident.channels),
            language=resident.language,
            not_before=send_time(ctx.now, resident.preferred_time),
            dedup_key=dedup_key(ctx.event_id, recipient_id(kind, case_id), template),
            case_id=case_id,
            variables=variables,
        )
        return Plan([intent])
    return Plan(suppressed=[_suppressed(kind, case_id, template, reason, ctx, data)])


def _suppressed(
    kind: RecipientKind,
    ref: str,
    template: str,
    reason: SuppressionReason,
    ctx: PlanningContext,
    data: Mapping[str, Any],
) -> Suppressed:
    return Suppressed(
        recipient_kind=kind,
        recipient_ref=ref,
        template=template,
        reason=reason,
        dedup_key=dedup_key(ctx.event_id, recipient_id(kind, ref), template),
        case_id=_case_id(data),
    )


def _case_variables(data: Mapping[str, Any], ctx: PlanningContext) -> dict[str, Any]:
    case_id = _case_id(data)
    return {
        "case_number": str(data.get("case_number") or case_id),
        "case_url": f"{ctx.staff_url.rstrip('/')}/cases/{case_id}",
    }


def _resident_variables(variables: dict[str, Any], ctx: PlanningContext) -> dict[str, Any]:
    # Residents get no staff link; they get the council's number to call instead.
    public = {k: v for k, v in variables.items() if k != "case_url"}
    return {**public, "council_name": ctx.council_name, "council_phone": ctx.council_phone}


def _case_id(data: Mapping[str, Any]) -> str:
    return str(_require(data, "case_id"))


def _programme(data: Mapping[str, Any], key: str) -> Programme:
    return _code(Programme, _require(data, key), key)


def _code(enum: type[_E], value: Any, key: str) -> _E:
    try:
        return enum(value)
    except ValueError as exc:
        raise MalformedEvent(f"{key}: unknown code") from exc


def _require(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    if value is None or value == "":
        raise MalformedEvent(f"missing {key}")
    return value
