"""What personal data each event carries on the bus, in what form, and why (its purpose).

One entry per event type, beside the models, so the AsyncAPI documents (``x-personal-data``
on every message) say it and a contract test keeps it true: every field named here exists,
every sealed field (``*_sealed``) is declared with the key purpose that opens it
(``tsunagu.shared.crypto.Purpose``), and no event type is left undeclared.

Forms:
- ``pseudonymous``: an id that means nothing without intake's records (case, resident,
  household ids; case numbers);
- ``plain``: readable by every reader of the topic; ``special_care`` marks 要配慮個人情報
  (concerns, disability, DV risk, and what routing derives from them);
- ``sealed``: encrypted with the resident's own key for one purpose (ADR 12); only the
  service given that purpose's key can open it, and the resident's erasure destroys it.
Staff usernames are staff's data, not residents'; they are listed where they travel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tsunagu.shared.contracts import food, intake, notify, routing

Form = Literal["pseudonymous", "plain", "sealed"]


@dataclass(frozen=True)
class Carried:
    """One field of the event's ``data`` (a dotted path) that is personal data."""

    path: str
    what: str
    form: Form
    special_care: bool = False
    #: For ``sealed``: the key purpose that opens it (``contact``, ``kana``, ``record``).
    purpose_key: str | None = None


@dataclass(frozen=True)
class PersonalData:
    """Why the event carries personal data at all, and each field that is."""

    purpose: str
    fields: tuple[Carried, ...] = ()


_CASE = Carried("case_id", "the case", "pseudonymous")
_NUMBER = Carried("case_number", "the reception number on the resident's slip", "pseudonymous")
_STAFF = Carried("staff", "the staff member who acted (staff data)", "plain")
_FACTS = Carried(
    "facts",
    "concern codes, the most pressing one, age (never the birth date), living alone, "
    "disability certificate, special-loan borrower, urgent flags",
    "plain",
    special_care=True,
)
_CONSENT = Carried(
    "consent",
    "sharing basis; contact channels, time and language; at risk at home and the one safe "
    "channel (codes only)",
    "plain",
    special_care=True,
)
_CONTACT = Carried(
    "contact_sealed",
    "name, furigana, email, phone, address",
    "sealed",
    purpose_key="contact",
)
_REASONS = Carried(
    "reasons",
    "why routing chose the programme: codes naming concerns, flags and the age",
    "plain",
    special_care=True,
)

#: What notify's topic tells of a routing decision (ADR 25): which programmes hold the case.
_WHO_HOLDS_THE_CASE = (
    _CASE,
    _NUMBER,
    Carried("lead", "the lead programme", "plain", special_care=True),
    Carried("coordinator", "the coordinating programme", "plain", special_care=True),
    Carried(
        "referrals",
        "programmes, roles, statuses and deadlines (no reason)",
        "plain",
        special_care=True,
    ),
)

PERSONAL_DATA: dict[str, PersonalData] = {
    intake.CASE_CREATED: PersonalData(
        "Routing decides where the case goes from the facts (rules 1-9); intake counts them for "
        "its anonymous reports. Notify reaches the resident as they consented (contact sealed "
        "for notify alone). The furigana is sealed for the food desk alone; routing passes it "
        "on unopened on the desk's own topic (food does not read this one, ADR 24). Notify "
        "reads this topic but uses neither the facts nor the furigana.",
        (
            _CASE,
            _NUMBER,
            Carried("resident_id", "the resident", "pseudonymous"),
            Carried("household_id", "the household", "pseudonymous"),
            Carried("taken_by", "the intake staff member (staff data)", "plain"),
            _FACTS,
            _CONSENT,
            _CONTACT,
            Carried("kana_sealed", "the furigana alone", "sealed", purpose_key="kana"),
        ),
    ),
    intake.CASE_UPDATED: PersonalData(
        "Staff corrected the facts: routing decides again (a correction may add or withdraw "
        "referrals); intake's reports count the corrected facts.",
        (_CASE, _FACTS, Carried("updated_by", "the staff member (staff data)", "plain")),
    ),
    intake.CONSENT_CHANGED: PersonalData(
        "Sharing follows its legal basis (domain rule 7): routing releases or withdraws "
        "referrals (and tells the food desk of a withdrawal), notify stops or resumes contact. "
        "Who gave consent and how, or the support meeting, record the basis.",
        (
            _CASE,
            _CONSENT,
            _CONTACT,
            Carried("given_by", "the resident or their legal representative (a code)", "plain"),
            Carried("given_how", "signed form or verbal (a code)", "plain"),
            Carried("meeting", "the support meeting's date and reference", "plain"),
            Carried("changed_by", "the staff member (staff data)", "plain"),
        ),
    ),
    intake.REFERRAL_RESPONSE_SUBMITTED: PersonalData(
        "Programme staff's response; routing owns the referral's state. Staff's own words are "
        "sealed with the resident's record key (intake alone opens them); codes stay readable "
        "for reports.",
        (
            _CASE,
            _STAFF,
            Carried(
                "reason", "at most the decline code's label (older events: staff's words)", "plain"
            ),
            Carried(
                "outcome", "at most the outcome code's label (older events: staff's words)", "plain"
            ),
            Carried("reason_sealed", "staff's words on a decline", "sealed", purpose_key="record"),
            Carried("outcome_sealed", "staff's words on a close", "sealed", purpose_key="record"),
        ),
    ),
    intake.REFERRAL_REQUESTED: PersonalData(
        "Staff ask routing for one more referral; routing decides and tells everyone.",
        (_CASE, Carried("requested_by", "the staff member (staff data)", "plain")),
    ),
    intake.RESIDENT_ERASED: PersonalData(
        "Every service forgets the case and ignores its events from now on (ADR 12). Routing "
        "forwards it unchanged to the food desk's topic.",
        (_CASE, Carried("resident_id", "the erased resident", "pseudonymous")),
    ),
    intake.CONTACT_CASE_CREATED: PersonalData(
        "Notify reaches the resident as they consented (the acknowledgement, an acceptance) and "
        "tells the staff member who took the case in of declines. Only what that needs travels "
        "on notify's own topic (ADR 25): the contact details sealed for notify alone, and the "
        "consent's codes (at risk at home and the one safe channel decide whether and how the "
        "resident may be reached). No concern, age, flag, household or furigana.",
        (
            _CASE,
            _NUMBER,
            Carried("taken_by", "the intake staff member (staff data)", "plain"),
            _CONSENT,
            _CONTACT,
        ),
    ),
    intake.CONTACT_CONSENT_CHANGED: PersonalData(
        "Notify stops contact on a withdrawal (apart from the confirmation the resident asked "
        "for), resumes it when consent is given again, and keeps the contact details and "
        "preferences as they now are (ADR 25). Who gave consent, how, the meeting and the "
        "staff member stay on intake.case.v1.",
        (_CASE, _CONSENT, _CONTACT),
    ),
    intake.STAFF_SESSIONS_REVOKED: PersonalData(
        "Every service refuses the staff member's ended sign-ins; no resident data.",
        (Carried("username", "the staff member (staff data)", "plain"),),
    ),
    routing.CASE_ROUTED: PersonalData(
        "The decision, for intake's case page and inbox (who holds the case: the access rule) "
        "and notify (the resident's acknowledgement, who to tell of declines). Reasons and "
        "external agencies are derived from the concerns; the food desk gets its eligibility "
        "on its own topic instead.",
        (
            _CASE,
            _NUMBER,
            Carried(
                "referrals",
                "programmes, roles, statuses and their reasons",
                "plain",
                special_care=True,
            ),
            Carried(
                "external",
                "external agencies (e.g. the DV centre) and why",
                "plain",
                special_care=True,
            ),
            Carried("urgent", "urgent (DV, no food today, eviction)", "plain", special_care=True),
            Carried(
                "food_parcel_eligible",
                "eligible for a food parcel (rule 9)",
                "plain",
                special_care=True,
            ),
        ),
    ),
    routing.CASE_REROUTED: PersonalData(
        "A corrected case decided again: intake shows what changed; notify follows who holds "
        "the case.",
        (
            _CASE,
            _NUMBER,
            Carried(
                "referrals",
                "programmes, roles, statuses and their reasons",
                "plain",
                special_care=True,
            ),
            Carried("external", "external agencies and why", "plain", special_care=True),
            Carried("urgent", "urgent (DV, no food today, eviction)", "plain", special_care=True),
            Carried(
                "food_parcel_eligible",
                "eligible for a food parcel (rule 9)",
                "plain",
                special_care=True,
            ),
        ),
    ),
    routing.FOOD_CASE_ROUTED: PersonalData(
        "The food desk finds the household at the event and hands it a parcel if routing's "
        "rule 9 says one is due; nothing else of the case travels here (ADR 24). Intake's "
        "household, event and furigana are passed on unopened: the furigana sealed for food "
        "alone (routing has no kana key). Eligibility says a parcel is due, never why: no "
        "concern, reason, age or flag.",
        (
            _CASE,
            _NUMBER,
            Carried("household_id", "the household", "pseudonymous"),
            Carried("kana_sealed", "the furigana alone", "sealed", purpose_key="kana"),
            Carried(
                "food_parcel_eligible",
                "eligible for a food parcel (rule 9; economic hardship, without its concern)",
                "plain",
                special_care=True,
            ),
        ),
    ),
    routing.FOOD_CASE_REROUTED: PersonalData(
        "A corrected case is eligible for a parcel: the food desk grants it (never why).",
        (
            _CASE,
            Carried(
                "food_parcel_eligible",
                "eligible for a food parcel (rule 9)",
                "plain",
                special_care=True,
            ),
        ),
    ),
    routing.FOOD_CONSENT_WITHDRAWN: PersonalData(
        "The resident withdrew consent: the food desk keeps only what a handout recorded.",
        (_CASE,),
    ),
    routing.NOTIFY_CASE_ROUTED: PersonalData(
        "Notify acknowledges the case to the resident (the lead programme and when it will be "
        "in touch), keeps who holds the case (its lists show a programme member only their "
        "cases) and the coordinator told of declines. Nothing derived from the concerns beyond "
        "which programmes hold the case (ADR 25): no reason, agency, urgency or eligibility.",
        _WHO_HOLDS_THE_CASE,
    ),
    routing.NOTIFY_CASE_REROUTED: PersonalData(
        "A corrected case decided again: notify follows who holds the case (ADR 25).",
        _WHO_HOLDS_THE_CASE,
    ),
    routing.NOTIFY_REFERRAL_STATUS_CHANGED: PersonalData(
        "Notify tells intake staff and the coordinator of a decline or closure (the message "
        "points to the case page), the resident of an acceptance, and cancels a withdrawn "
        "programme's messages. Staff's reason and outcome and who acted are left out (ADR 25).",
        (
            _CASE,
            _NUMBER,
            Carried("programme", "the programme holding the referral", "plain", special_care=True),
            Carried(
                "suggested_next",
                "the programme suggested after a decline",
                "plain",
                special_care=True,
            ),
        ),
    ),
    routing.REFERRAL_CREATED: PersonalData(
        "The programme's team picks the case up (its own systems read its topic). Only the "
        "concerns that programme needs travel: all of them to the lead or coordinator, who "
        "follow the whole case; to a member, only those that brought the case to it "
        "(`concerns_scope`). The rest is on the case page, where access is checked and audited.",
        (
            _CASE,
            _NUMBER,
            Carried(
                "concerns",
                "the concerns this programme needs (see concerns_scope)",
                "plain",
                special_care=True,
            ),
            Carried(
                "reasons",
                "why this programme: codes naming its concerns, flags, the age",
                "plain",
                special_care=True,
            ),
            Carried("urgent", "urgent (DV, no food today, eviction)", "plain", special_care=True),
        ),
    ),
    routing.REFERRAL_STATUS_CHANGED: PersonalData(
        "Every status change, for intake's case page, the team and notify (declines and "
        "closures told to intake staff and the coordinator; an acceptance to the resident). "
        "Staff's words travel sealed for intake; routing forwards them unopened.",
        (
            _CASE,
            _NUMBER,
            Carried("by", "who changed it (staff data, or routing)", "plain"),
            Carried("taken_by", "the staff member taking over (staff data)", "plain"),
            Carried("reason", "the withdrawal's or decline's code or label", "plain"),
            Carried("outcome", "the outcome code's label", "plain"),
            Carried("reason_sealed", "staff's words on a decline", "sealed", purpose_key="record"),
            Carried("outcome_sealed", "staff's words on a close", "sealed", purpose_key="record"),
        ),
    ),
    routing.REFERRAL_ESCALATED: PersonalData(
        "The programme's supervisor is told a referral is overdue; told unchanged to notify on "
        "its own topic (ADR 25).",
        (_CASE, _NUMBER, Carried("urgent", "urgent", "plain", special_care=True)),
    ),
    routing.CONSENT_WITHDRAWN: PersonalData(
        "The programme is told the resident withdrew consent: it loses the case.",
        (_CASE, _NUMBER),
    ),
    food.ELIGIBILITY_GRANTED: PersonalData(
        "Intake shows the household's eligibility; its reports count it. Never a concern.",
        (
            _CASE,
            Carried("household_id", "the household", "pseudonymous"),
            Carried(
                "reason", "the rule's code, or the desk's short reason for a manual grant", "plain"
            ),
            Carried("granted_by", "the desk staff member (staff data)", "plain"),
        ),
    ),
    food.PARCEL_HANDED_OUT: PersonalData(
        "Intake shows the handout on the case; its reports count parcels.",
        (
            _CASE,
            Carried("household_id", "the household", "pseudonymous"),
            Carried("handed_out_by", "the desk staff member (staff data)", "plain"),
        ),
    ),
    food.STOCK_LOW: PersonalData("The event's food desk lead is told; no resident data."),
    food.HOUSEHOLD_LINKED: PersonalData(
        "The food desk said two households are one (who shares a kitchen): intake's reports "
        "count their parcels as one household's. Ids only: no name, furigana or staff member.",
        (
            _CASE,
            Carried("moved_household_id", "the household that joined the other", "pseudonymous"),
            Carried("joined_household_id", "the household it joined", "pseudonymous"),
        ),
    ),
    notify.DELIVERY_ATTEMPTED: PersonalData(
        "Delivery attempts for monitoring: channel, status, error code; never the message, "
        "the address or the number.",
        (_CASE,),
    ),
}


def special_care_fields(event_type: str) -> tuple[str, ...]:
    """The fields of ``event_type`` readable by every reader of its topic that are
    special-care personal information."""
    declared = PERSONAL_DATA[event_type]
    return tuple(c.path for c in declared.fields if c.special_care and c.form == "plain")
