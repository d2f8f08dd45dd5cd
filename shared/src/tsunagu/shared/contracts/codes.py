"""The domain's codes: programmes, concerns, roles, sharing bases and channels.

These strings are the contract between the services, the UI, the tests and the docs
(see docs/domain.md). Never rename one; add new ones only with a new contract version.
"""

from __future__ import annotations

from enum import StrEnum


class Programme(StrEnum):
    """The seven programmes that sit together at a consultation event."""

    LIFE_INDEPENDENCE = "life_independence"
    ADULT_GUARDIANSHIP = "adult_guardianship"
    WELFARE_FUND = "welfare_fund"
    CSW_OUTREACH = "csw_outreach"
    CSW_PARTICIPATION = "csw_participation"
    ELDERLY_SUPPORT = "elderly_support"
    DISABILITY_SUPPORT = "disability_support"


PROGRAMME_NAMES_JA: dict[Programme, str] = {
    Programme.LIFE_INDEPENDENCE: "生活自立サポートセンター",
    Programme.ADULT_GUARDIANSHIP: "成年後見センター",
    Programme.WELFARE_FUND: "生活福祉資金",
    Programme.CSW_OUTREACH: "CSW アウトリーチ等継続的支援事業",
    Programme.CSW_PARTICIPATION: "CSW 参加支援事業",
    Programme.ELDERLY_SUPPORT: "地域包括支援センター",
    Programme.DISABILITY_SUPPORT: "障害者相談支援センター",
}

PROGRAMME_NAMES_EN: dict[Programme, str] = {
    Programme.LIFE_INDEPENDENCE: "Independence Support Centre",
    Programme.ADULT_GUARDIANSHIP: "Adult Guardianship Centre",
    Programme.WELFARE_FUND: "Welfare Fund Loans",
    Programme.CSW_OUTREACH: "Community Social Worker (outreach)",
    Programme.CSW_PARTICIPATION: "Community Social Worker (participation)",
    Programme.ELDERLY_SUPPORT: "Community General Support Centre (elderly)",
    Programme.DISABILITY_SUPPORT: "Disability Support Centre",
}


class Concern(StrEnum):
    """The concern checkboxes of the intake sheet."""

    INCOME_SHORTFALL = "income_shortfall"
    DEBT_ARREARS = "debt_arrears"
    SPECIAL_LOAN_REPAYMENT = "special_loan_repayment"
    LOAN_REQUEST = "loan_request"
    HOUSING = "housing"
    EMPLOYMENT = "employment"
    FOOD_INSECURITY = "food_insecurity"
    ISOLATION = "isolation"
    HIKIKOMORI = "hikikomori"
    FAMILY_8050 = "family_8050"
    ELDERLY_CARE = "elderly_care"
    DEMENTIA_MONEY = "dementia_money"
    GUARDIANSHIP = "guardianship"
    DISABILITY = "disability"
    HEALTH = "health"
    CHILDCARE = "childcare"
    DV_ABUSE = "dv_abuse"


CONCERN_LABELS_JA: dict[Concern, str] = {
    Concern.INCOME_SHORTFALL: "生活費が足りない",
    Concern.DEBT_ARREARS: "借金・滞納がある",
    Concern.SPECIAL_LOAN_REPAYMENT: "特例貸付の返済について",
    Concern.LOAN_REQUEST: "貸付を受けたい",
    Concern.HOUSING: "住まいを失いそう・住まいの不安",
    Concern.EMPLOYMENT: "仕事が見つからない・続かない",
    Concern.FOOD_INSECURITY: "食べるものに困っている",
    Concern.ISOLATION: "孤立している・誰かと交流したい",
    Concern.HIKIKOMORI: "家族・本人のひきこもり",
    Concern.FAMILY_8050: "高齢の親と無職の子の世帯 (8050)",
    Concern.ELDERLY_CARE: "介護・高齢者の暮らし",
    Concern.DEMENTIA_MONEY: "認知症・お金の管理が難しい",
    Concern.GUARDIANSHIP: "成年後見について",
    Concern.DISABILITY: "障害について",
    Concern.HEALTH: "健康・医療",
    Concern.CHILDCARE: "子育て",
    Concern.DV_ABUSE: "DV・虐待",
}


class ExternalAgency(StrEnum):
    """Agencies outside the council that a need is referred to (never silently)."""

    WELFARE_OFFICE = "welfare_office"
    HELLO_WORK = "hello_work"
    LEGAL_AID = "legal_aid"
    HEALTH_CENTRE = "health_centre"
    CHILD_FAMILY_CENTRE = "child_family_centre"
    DV_CENTRE = "dv_centre"


class SharingBasis(StrEnum):
    """The legal basis on which a case is shared with a programme (domain rule 7)."""

    CONSENT = "consent"
    SUPPORT_MEETING = "support_meeting"
    NONE = "none"


class ConsentGivenBy(StrEnum):
    """Who gave consent to sharing: the resident, or their legal representative (an adult
    under guardianship)."""

    RESIDENT = "resident"
    LEGAL_REPRESENTATIVE = "legal_representative"


class ConsentMethod(StrEnum):
    """How consent was given."""

    SIGNED_FORM = "signed_form"
    VERBAL = "verbal"


class ReferralRole(StrEnum):
    LEAD = "lead"
    COORDINATOR = "coordinator"
    MEMBER = "member"


class ReferralStatus(StrEnum):
    SUGGESTED = "suggested"  # awaiting a sharing basis; the programme has not received the case
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    ESCALATED = "escalated"
    #: No longer asked of the programme: the case was corrected (final), or consent was
    #: withdrawn (giving consent again, or a support meeting, puts it back where it was).
    WITHDRAWN = "withdrawn"


#: Referral statuses in which the programme does not hold the case: ``suggested`` (awaiting a
#: sharing basis, never received) and ``withdrawn`` (its basis went away). Every service's
#: access rule reads this one set: a programme member sees a case only through a referral in
#: another status.
NOT_HOLDING: frozenset[ReferralStatus] = frozenset(
    {ReferralStatus.SUGGESTED, ReferralStatus.WITHDRAWN}
)


class StaffRole(StrEnum):
    INTAKE = "intake"
    PROGRAMME = "programme"
    COORDINATOR = "coordinator"
    FOOD_DESK = "food_desk"
    #: Runs the food desk's stock: receipts, transfers between events, corrected counts.
    FOOD_DESK_LEAD = "food_desk_lead"
    ADMIN = "admin"
    AUDITOR = "auditor"
    #: Reads the council's anonymous reports and nothing about any case.
    MANAGER = "manager"
    #: Answers residents' disclosure and erasure requests (開示・消去請求).
    PRIVACY_OFFICER = "privacy_officer"


class ContactChannel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    NONE = "none"  # "do not contact"


class ContactTime(StrEnum):
    ANY = "any"
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


class Language(StrEnum):
    """Languages a resident may be contacted in; ``ja_easy`` is やさしい日本語."""

    JA = "ja"
    JA_EASY = "ja_easy"
    EN = "en"
    ZH = "zh"
    VI = "vi"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    NOT_STATED = "not_stated"


class ParcelType(StrEnum):
    STANDARD = "standard"
    NO_PORK = "no_pork"
    ALLERGY_FRIENDLY = "allergy_friendly"
    INFANT = "infant"


class DeclineReason(StrEnum):
    """Why a programme declined a referral: counted in reports; free text goes beside it."""

    OUT_OF_SCOPE = "out_of_scope"
    OTHER_PROGRAMME_FITS = "other_programme_fits"
    RESIDENT_DECLINED = "resident_declined"
    UNREACHABLE = "unreachable"
    NO_CAPACITY = "no_capacity"
    ALREADY_SUPPORTED = "already_supported"
    OTHER = "other"


DECLINE_REASON_LABELS_JA: dict[DeclineReason, str] = {
    DeclineReason.OUT_OF_SCOPE: "事業の対象外",
    DeclineReason.OTHER_PROGRAMME_FITS: "他の窓口が適切",
    DeclineReason.RESIDENT_DECLINED: "本人が支援を希望しない",
    DeclineReason.UNREACHABLE: "本人と連絡がつかない",
    DeclineReason.NO_CAPACITY: "受け入れの余裕がない",
    DeclineReason.ALREADY_SUPPORTED: "すでに他で支援を受けている",
    DeclineReason.OTHER: "その他",
}


class ReferralOutcome(StrEnum):
    """How a closed referral ended: counted in reports; free text goes beside it."""

    RESOLVED = "resolved"
    CONNECTED_TO_SERVICE = "connected_to_service"
    CONTINUED_ELSEWHERE = "continued_elsewhere"
    RESIDENT_ENDED = "resident_ended"
    LOST_CONTACT = "lost_contact"
    MOVED_AWAY = "moved_away"
    DECEASED = "deceased"
    OTHER = "other"


REFERRAL_OUTCOME_LABELS_JA: dict[ReferralOutcome, str] = {
    ReferralOutcome.RESOLVED: "課題が解決した",
    ReferralOutcome.CONNECTED_TO_SERVICE: "制度・サービスにつないだ",
    ReferralOutcome.CONTINUED_ELSEWHERE: "他の窓口・機関で支援を継続",
    ReferralOutcome.RESIDENT_ENDED: "本人の希望で終了",
    ReferralOutcome.LOST_CONTACT: "連絡がつかなくなった",
    ReferralOutcome.MOVED_AWAY: "転居した",
    ReferralOutcome.DECEASED: "亡くなった",
    ReferralOutcome.OTHER: "その他",
}
