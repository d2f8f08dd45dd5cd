"""Residents at risk: who is, and what of their contact may leave intake.

A resident is at risk when someone at home may be a danger to them: a ``dv_abuse`` concern, or
staff marked the case sensitive. Such a resident is reached through the one safe channel staff
recorded, or not at all; never by letter, never at the home address. Intake's part is to say so
on the bus and to hand notify only the safe detail (notify's planner enforces the channel).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tsunagu.shared.contracts.codes import Concern, ContactChannel

#: Channels that reach the resident's own phone or mailbox. A letter goes home: never safe.
SAFE_CHANNELS = frozenset({ContactChannel.EMAIL, ContactChannel.SMS, ContactChannel.PHONE})

_DETAIL = {
    ContactChannel.EMAIL: "email",
    ContactChannel.SMS: "phone",
    ContactChannel.PHONE: "phone",
}


def at_risk(concerns: Iterable[str], sensitive: bool) -> bool:
    return sensitive or Concern.DV_ABUSE.value in {str(c) for c in concerns}


def safe_channel(value: str | None) -> ContactChannel | None:
    """The stored safe contact as a channel; ``none`` and anything unsafe mean there is none."""
    if not value:
        return None
    channel = ContactChannel(value)
    return channel if channel in SAFE_CHANNELS else ContactChannel.NONE


def contact_for_notify(
    contact: Mapping[str, Any], risk: bool, safe: ContactChannel | None
) -> dict[str, Any]:
    """What is sealed for notify: everything for most residents; for a resident at risk only
    the name and the safe detail (no address, no other number), so that nothing else can be
    used even by mistake."""
    fields = ("name", "name_kana", "phone", "email", "address")
    if risk:
        fields = ("name", "name_kana") + ((_DETAIL[safe],) if safe in _DETAIL else ())
    return {k: contact.get(k) for k in fields}
