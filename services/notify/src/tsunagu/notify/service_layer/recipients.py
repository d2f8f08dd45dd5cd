"""Where a message goes on a channel: staff addresses from settings, residents' from their contact.

Staff are reached by email (and a team by its chat webhook): their addresses come from the
``TSUNAGU_NOTIFY_*_PATTERN`` settings. Residents and invited borrowers are reached on the
channel they chose, at the details they gave, which arrive sealed and are opened only here,
just before sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tsunagu.notify.config import NotifyConfig
from tsunagu.notify.domain.planning import WEBHOOK, RecipientKind, ResidentContact
from tsunagu.shared.contracts.codes import ContactChannel, ContactTime, Language

#: Invited special-loan borrowers (``service_layer.invitations``); ref: the borrower's number.
BORROWER = "borrower"
#: Why an invitation is not sent: the borrower asked not to be invited.
OPTED_OUT = "opted_out"
#: Recipients who are members of the public: quiet hours and consent apply to them.
PUBLIC_KINDS = frozenset({RecipientKind.RESIDENT.value, BORROWER})


def resident_contact(case: Mapping[str, Any]) -> ResidentContact:
    """A ``case_contact`` row as the planner's ``ResidentContact`` (codes only)."""
    safe = case.get("safe_channel")
    return ResidentContact(
        case_id=case["case_id"],
        channels=frozenset(ContactChannel(c) for c in case["channels"]),
        preferred_time=ContactTime(case["contact_time"]),
        language=Language(case["language"]),
        at_risk=bool(case.get("at_risk")),
        safe_channel=ContactChannel(safe) if safe else None,
        consent_withdrawn=case.get("consent_withdrawn_at") is not None,
    )


class AddressBook:
    def __init__(self, config: NotifyConfig) -> None:
        self.config = config

    def staff_email(self, kind: str, ref: str) -> str | None:
        c = self.config
        if kind == RecipientKind.TEAM:
            return c.team_address_pattern.format(programme=ref)
        if kind == RecipientKind.SUPERVISOR:
            return c.supervisor_address_pattern.format(programme=ref)
        if kind == RecipientKind.INTAKE_STAFF:
            return c.staff_address_pattern.format(username=ref) if ref else None
        if kind == RecipientKind.FOOD_LEAD:
            return c.food_lead_address
        return None

    def address(
        self, kind: str, ref: str, channel: str, contact: Mapping[str, Any] | None
    ) -> str | None:
        """The address for ``channel``; None when there is none (a permanent failure)."""
        if channel == WEBHOOK:
            return ref  # the team's programme code; the webhook channel holds the URL
        if kind not in PUBLIC_KINDS:
            return self.staff_email(kind, ref) if channel == ContactChannel.EMAIL else None
        contact = contact or {}
        field = {
            ContactChannel.EMAIL: "email",
            ContactChannel.SMS: "phone",
            ContactChannel.PHONE: "phone",
            ContactChannel.LETTER: "address",
        }.get(ContactChannel(channel))
        value = str(contact.get(field) or "").strip() if field else ""
        return value or None
