"""The body of ``POST /api/v1/cases``: what intake staff submit, its rules and Japanese messages.

Unknown fields are refused and every invalid field is reported under its own path, so the form
can show each message next to its field (see ``japanese_error_messages``). Validation messages
never repeat what was typed: they may end up in logs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tsunagu.intake.domain.normalize import (
    BIRTH_DATE_HELP,
    BirthDateError,
    age_on,
    is_kana_name,
    parse_birth_date,
    phone_digits,
)
from tsunagu.shared import phones
from tsunagu.shared.clock import JAPAN, japan_today
from tsunagu.shared.contracts.codes import (
    Concern,
    ContactChannel,
    ContactTime,
    Language,
    Sex,
    SharingBasis,
)
from tsunagu.shared.text import fits_after_nfkc

__all__ = [
    "EXAMPLE_BODY",
    "FORM_ERROR_KEY",
    "MAX_AGE",
    "CaseInput",
    "ConsentInput",
    "HouseholdMember",
    "Proxy",
    "ResidentInput",
    "UrgentFlags",
    "japanese_error_messages",
]

JST = JAPAN
MAX_AGE = 120
MAX_HOUSEHOLD_MEMBERS = 20

# --- our own error types, each with its Japanese message -------------------------------------

_MESSAGES_JA: dict[str, str] = {
    "kana_only": "ふりがなはひらがなかカタカナで入力してください",
    "birth_date": BIRTH_DATE_HELP,
    "birth_date_future": "生年月日が未来の日付になっています",
    "birth_date_too_old": f"生年月日が正しくありません（{MAX_AGE}歳を超えています）",
    "phone_format": "電話番号は10桁か11桁の数字で入力してください（例: 090-1234-5678）",
    "phone_invalid": "この電話番号は使われていない形式です。番号を確かめてください（例: 03-1234-5678）",
    "sms_needs_mobile": "SMSは携帯電話の番号（070・080・090で始まる番号）にだけ送れます",
    "email_format": "メールアドレスの形式が正しくありません（例: hanako@example.jp）",
    "duplicate_concern": "同じ相談内容が2回選ばれています",
    "most_pressing_not_in_concerns": "一番困っていることは、選んだ相談内容の中から選んでください",
    "duplicate_channel": "同じ連絡方法が2回選ばれています",
    "channel_none_exclusive": "「連絡しない」は他の連絡方法と一緒に選べません",
    "basis_required_for_sharing": (
        "情報を共有する場合は、共有の根拠（本人同意または支援会議）を選んでください"
    ),
    "consent_basis_without_sharing": (
        "情報を共有しない場合、共有の根拠は「なし」か「支援会議」を選んでください"
    ),
    "channel_needs_email": "メールで連絡する場合はメールアドレスを入力してください",
    "channel_needs_phone": "電話・SMSで連絡する場合は電話番号を入力してください",
    "channel_needs_address": "手紙で連絡する場合は住所を入力してください",
    "safe_contact_required": (
        "DV・虐待、または「連絡に注意が必要」のときは、安全な連絡方法を選んでください"
        "（ない場合は「安全な連絡先なし」）"
    ),
    "safe_contact_letter": "手紙は自宅に届くため、安全な連絡方法には選べません",
    "safe_contact_without_risk": (
        "安全な連絡方法は、DV・虐待か「連絡に注意が必要」を選んだときだけ指定します"
    ),
    "safe_contact_needs_email": "安全な連絡方法がメールの場合は、メールアドレスを入力してください",
    "safe_contact_needs_phone": "安全な連絡方法が電話・SMSの場合は、電話番号を入力してください",
}


def _fail(kind: str, message: str | None = None) -> PydanticCustomError:
    return PydanticCustomError(kind, message or _MESSAGES_JA[kind])


def _today(info: ValidationInfo) -> date:
    """Today in Japan; tests and replays pass ``context={"today": date(...)}``."""
    context = info.context if isinstance(info.context, Mapping) else {}
    today = context.get("today")
    return today if isinstance(today, date) else japan_today()


# --- field types ----------------------------------------------------------------------------


#: Column sizes (intake's resident table), counted after NFKC normalisation.
KANA_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254


def _blank_to_none(value: object) -> object:
    # HTML forms send empty inputs as "", which means "not given" here.
    return None if isinstance(value, str) and not value.strip() else value


def _clean_kana(value: str) -> str:
    if not is_kana_name(value):
        raise _fail("kana_only")
    # Kept as typed (script and the space between family and given name) for display;
    # matching uses kana_search_key. Its length counts after NFKC (㌀ is four kana).
    return " ".join(fits_after_nfkc(value, KANA_MAX_LENGTH).split())


def _read_birth_date(value: object) -> object:
    if isinstance(value, datetime):
        raise _fail("birth_date")
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return parse_birth_date(value)
        except BirthDateError as exc:
            raise _fail("birth_date", str(exc)) from None
    if value is None or isinstance(value, date):
        return value
    raise _fail("birth_date")


# Hyphens, brackets and spaces are how people write numbers; the IME's ー often stands in for "-".
_PHONE_PUNCTUATION = frozenset("+-()‐‑‒–—―−ー ")


def _read_phone(value: str | None) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value)
    if any(not ch.isdigit() and ch not in _PHONE_PUNCTUATION for ch in text):
        raise _fail("phone_format")
    digits = phone_digits(text)
    if not 10 <= len(digits) <= 11:
        raise _fail("phone_format")
    try:
        # libphonenumber knows which Japanese numbers exist (area codes, 0120, 050, mobiles).
        return phones.domestic_digits(digits)
    except phones.PhoneError:
        raise _fail("phone_invalid") from None


_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def _read_email(value: str | None) -> str | None:
    if value is None:
        return None
    text = fits_after_nfkc(value, EMAIL_MAX_LENGTH).strip()  # full-width ＠ from a Japanese IME
    if not _EMAIL.fullmatch(text):
        raise _fail("email_format")
    return text


Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=100)]
NameKana = Annotated[
    str, Field(min_length=1, max_length=KANA_MAX_LENGTH), AfterValidator(_clean_kana)
]
Relationship = Annotated[str, Field(min_length=1, max_length=50)]
BirthDate = Annotated[date | None, BeforeValidator(_read_birth_date)]
Phone = Annotated[
    str | None, Field(max_length=30), BeforeValidator(_blank_to_none), AfterValidator(_read_phone)
]
Email = Annotated[
    str | None,
    Field(max_length=EMAIL_MAX_LENGTH),
    BeforeValidator(_blank_to_none),
    AfterValidator(_read_email),
]
Address = Annotated[str | None, Field(max_length=200), BeforeValidator(_blank_to_none)]
Notes = Annotated[str | None, Field(max_length=2000), BeforeValidator(_blank_to_none)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --- the body -------------------------------------------------------------------------------


class HouseholdMember(_Body):
    """Someone the resident lives with (続柄 as written, e.g. 長男)."""

    relationship: Relationship
    age: int | None = Field(default=None, ge=0, le=MAX_AGE)


class Proxy(_Body):
    """Who came on the resident's behalf (代理人)."""

    name: Name
    relationship: Relationship


class ResidentInput(_Body):
    """The resident as recorded on the intake sheet; unknown or "not asked" is ``None``."""

    name: Name
    name_kana: NameKana
    birth_date: BirthDate = None
    sex: Sex = Sex.NOT_STATED
    phone: Phone = None
    email: Email = None
    address: Address = None
    language: Language = Language.JA
    lives_alone: bool | None = None
    disability_certificate: bool = False
    special_loan_borrower: bool = False
    household: list[HouseholdMember] = Field(default_factory=list, max_length=MAX_HOUSEHOLD_MEMBERS)
    proxy: Proxy | None = None

    @field_validator("birth_date")
    @classmethod
    def _plausible_birth_date(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return None
        today = _today(info)
        if value > today:
            raise _fail("birth_date_future")
        if age_on(value, today) > MAX_AGE:
            raise _fail("birth_date_too_old")
        return value


class UrgentFlags(_Body):
    """The two urgent questions of the intake sheet (domain rule 8; dv_abuse is a concern)."""

    no_food_today: bool = False
    eviction_within_7_days: bool = False


class ConsentInput(_Body):
    """May the case be shared, on which legal basis, and how may the resident be contacted.

    ``sensitive``: staff judge that someone at home may be a danger to the resident (a
    ``dv_abuse`` concern counts as that too). Such a case needs ``safe_contact``: the one
    channel that reaches the resident safely (email, sms or phone, at the details on this
    sheet), or ``none`` when there is no safe contact; nothing else is ever used.
    """

    share_across_programmes: bool
    basis: SharingBasis
    contact_channels: list[ContactChannel] = Field(min_length=1)
    contact_time: ContactTime = ContactTime.ANY
    sensitive: bool = False
    safe_contact: Annotated[ContactChannel | None, BeforeValidator(_blank_to_none)] = None

    @field_validator("basis")
    @classmethod
    def _basis_fits_sharing(cls, basis: SharingBasis, info: ValidationInfo) -> SharingBasis:
        # Runs after share_across_programmes, which is declared first.
        sharing = info.data.get("share_across_programmes")
        if sharing is True and basis is SharingBasis.NONE:
            raise _fail("basis_required_for_sharing")
        if sharing is False and basis is SharingBasis.CONSENT:
            raise _fail("consent_basis_without_sharing")
        return basis

    @field_validator("contact_channels")
    @classmethod
    def _channels_are_a_set(cls, channels: list[ContactChannel]) -> list[ContactChannel]:
        if len(set(channels)) != len(channels):
            raise _fail("duplicate_channel")
        if ContactChannel.NONE in channels and len(channels) > 1:
            raise _fail("channel_none_exclusive")
        return channels


EXAMPLE_BODY: dict[str, Any] = {
    "event_id": "2025-06-aeon-kawaguchi",
    "resident": {
        "name": "川口 花子",
        "name_kana": "かわぐち はなこ",
        "birth_date": "1948-05-01",
        "sex": "female",
        "phone": "090-1234-5678",
        "email": None,
        "address": "埼玉県川口市本町1-2-3",
        "language": "ja",
        "lives_alone": True,
        "disability_certificate": False,
        "special_loan_borrower": False,
    },
    "concerns": ["income_shortfall", "isolation"],
    "most_pressing": "income_shortfall",
    "urgent": {"no_food_today": False, "eviction_within_7_days": False},
    "consent": {
        "share_across_programmes": True,
        "basis": "consent",
        "contact_channels": ["phone"],
        "contact_time": "afternoon",
    },
    "notes": "話し相手がほしいとのこと",
}

# Which contact detail each channel needs, and where the error is shown.
_CHANNEL_NEEDS: dict[ContactChannel, tuple[str, str]] = {
    ContactChannel.EMAIL: ("email", "channel_needs_email"),
    ContactChannel.SMS: ("phone", "channel_needs_phone"),
    ContactChannel.PHONE: ("phone", "channel_needs_phone"),
    ContactChannel.LETTER: ("address", "channel_needs_address"),
}

# The detail a safe channel needs.
_SAFE_NEEDS: dict[ContactChannel, tuple[str, str]] = {
    ContactChannel.EMAIL: ("email", "safe_contact_needs_email"),
    ContactChannel.SMS: ("phone", "safe_contact_needs_phone"),
    ContactChannel.PHONE: ("phone", "safe_contact_needs_phone"),
}


class CaseInput(_Body):
    """``POST /api/v1/cases``: one resident taken in at one consultation event."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_BODY]})

    event_id: Identifier
    household_id: Identifier | None = None
    resident: ResidentInput
    concerns: list[Concern] = Field(min_length=1)
    most_pressing: Concern | None = None
    urgent: UrgentFlags = Field(default_factory=UrgentFlags)
    consent: ConsentInput
    notes: Notes = None

    @field_validator("concerns")
    @classmethod
    def _concerns_are_a_set(cls, concerns: list[Concern]) -> list[Concern]:
        if len(set(concerns)) != len(concerns):
            raise _fail("duplicate_concern")
        return concerns

    @field_validator("most_pressing")
    @classmethod
    def _most_pressing_is_a_concern(
        cls, value: Concern | None, info: ValidationInfo
    ) -> Concern | None:
        concerns = info.data.get("concerns")  # absent when concerns itself is invalid
        if value is not None and concerns is not None and value not in concerns:
            raise _fail("most_pressing_not_in_concerns")
        return value

    @property
    def at_risk(self) -> bool:
        """Someone at home may be a danger: contact only through ``consent.safe_contact``."""
        return self.consent.sensitive or Concern.DV_ABUSE in self.concerns

    @model_validator(mode="after")
    def _at_risk_has_a_safe_contact(self) -> Self:
        safe = self.consent.safe_contact
        kind: str | None = None
        loc: tuple[str, ...] = ("consent", "safe_contact")
        if not self.at_risk:
            kind = "safe_contact_without_risk" if safe is not None else None
        elif safe is None:
            kind = "safe_contact_required"
        elif safe is ContactChannel.LETTER:
            kind = "safe_contact_letter"
        elif safe in _SAFE_NEEDS and getattr(self.resident, _SAFE_NEEDS[safe][0]) is None:
            field, kind = _SAFE_NEEDS[safe]
            loc = ("resident", field)
        elif safe is ContactChannel.SMS and not phones.is_mobile(self.resident.phone or ""):
            kind, loc = "sms_needs_mobile", ("resident", "phone")
        if kind is not None:
            error = InitErrorDetails(type=_fail(kind), loc=loc, input=None)
            raise ValidationError.from_exception_data(type(self).__name__, [error])
        return self

    @model_validator(mode="after")
    def _channels_have_contact_details(self) -> Self:
        # Reported on the missing detail (resident.email …) so the form marks what to fill in.
        errors: list[InitErrorDetails] = []
        reported: set[str] = set()
        for channel in self.consent.contact_channels:
            if channel not in _CHANNEL_NEEDS:
                continue
            field, kind = _CHANNEL_NEEDS[channel]
            if getattr(self.resident, field) is None and field not in reported:
                reported.add(field)
                errors.append(
                    InitErrorDetails(type=_fail(kind), loc=("resident", field), input=None)
                )
        sms = ContactChannel.SMS in self.consent.contact_channels
        phone = self.resident.phone
        if sms and phone is not None and "phone" not in reported and not phones.is_mobile(phone):
            errors.append(
                InitErrorDetails(
                    type=_fail("sms_needs_mobile"), loc=("resident", "phone"), input=None
                )
            )
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self


# --- Japanese messages for the form ---------------------------------------------------------

#: Key for an error that belongs to the whole body rather than one field.
FORM_ERROR_KEY = "__all__"

_LABELS_JA: dict[str, str] = {
    "": "入力内容",
    "event_id": "相談会",
    "household_id": "世帯",
    "resident": "相談者",
    "resident.name": "氏名",
    "resident.name_kana": "ふりがな",
    "resident.birth_date": "生年月日",
    "resident.sex": "性別",
    "resident.phone": "電話番号",
    "resident.email": "メールアドレス",
    "resident.address": "住所",
    "resident.language": "連絡に使う言語",
    "resident.lives_alone": "ひとり暮らし",
    "resident.disability_certificate": "障害者手帳",
    "resident.special_loan_borrower": "特例貸付の借受人",
    "resident.household": "世帯員",
    "resident.household.relationship": "世帯員の続柄",
    "resident.household.age": "世帯員の年齢",
    "resident.proxy": "代理人",
    "resident.proxy.name": "代理人の氏名",
    "resident.proxy.relationship": "代理人の続柄",
    "concerns": "相談内容",
    "most_pressing": "一番困っていること",
    "urgent": "緊急の状況",
    "urgent.no_food_today": "今日食べるものがない",
    "urgent.eviction_within_7_days": "7日以内に住まいを失う",
    "consent": "同意",
    "consent.share_across_programmes": "関係窓口での情報共有",
    "consent.basis": "共有の根拠",
    "consent.contact_channels": "連絡方法",
    "consent.contact_time": "連絡の時間帯",
    "consent.sensitive": "連絡に注意が必要",
    "consent.safe_contact": "安全な連絡方法",
    "notes": "メモ",
}

# Fields chosen from options rather than typed: "選んでください" instead of "入力してください".
_CHOSEN = frozenset(
    {
        "event_id",
        "resident.sex",
        "resident.language",
        "resident.lives_alone",
        "resident.disability_certificate",
        "resident.special_loan_borrower",
        "concerns",
        "most_pressing",
        "urgent.no_food_today",
        "urgent.eviction_within_7_days",
        "consent.share_across_programmes",
        "consent.basis",
        "consent.contact_channels",
        "consent.contact_time",
        "consent.sensitive",
        "consent.safe_contact",
    }
)

_BY_FIELD_AND_TYPE: dict[tuple[str, str], str] = {
    ("concerns", "missing"): "相談内容を1つ以上選んでください",
    ("concerns", "too_short"): "相談内容を1つ以上選んでください",
    ("consent.contact_channels", "missing"): (
        "連絡方法を1つ以上選んでください（連絡を望まない場合は「連絡しない」）"
    ),
    ("consent.contact_channels", "too_short"): (
        "連絡方法を1つ以上選んでください（連絡を望まない場合は「連絡しない」）"
    ),
    ("resident.name_kana", "string_too_short"): "ふりがなを入力してください",
    ("resident.name_kana", "missing"): "ふりがなを入力してください",
}

_BY_TYPE: dict[str, str] = {
    "string_too_long": "{label}は{max_length}文字以内で入力してください",
    "string_type": "{label}は文字で入力してください",
    "string_pattern_mismatch": "{label}の形式が正しくありません",
    "enum": "{label}の選択肢が正しくありません",
    "literal_error": "{label}の選択肢が正しくありません",
    "too_long": "{label}は{max_length}件までです",
    "bool_type": "{label}は「はい」か「いいえ」で答えてください",
    "bool_parsing": "{label}は「はい」か「いいえ」で答えてください",
    "int_type": "{label}は数字で入力してください",
    "int_parsing": "{label}は数字で入力してください",
    "int_from_float": "{label}は整数で入力してください",
    "greater_than_equal": "{label}は{ge}以上で入力してください",
    "less_than_equal": "{label}は{le}以下で入力してください",
    "extra_forbidden": "「{path}」という項目は受け付けていません",
}


def _message_ja(path: str, field: str, error_type: str, ctx: Mapping[str, Any]) -> str:
    if (field, error_type) in _BY_FIELD_AND_TYPE:
        return _BY_FIELD_AND_TYPE[field, error_type]
    label = _LABELS_JA.get(field, f"「{path}」")
    if error_type in {"missing", "string_too_short", "too_short"}:
        verb = "選んでください" if field in _CHOSEN else "入力してください"
        return f"{label}を{verb}"
    template = _BY_TYPE.get(error_type, "{label}が正しくありません")
    return template.format(label=label, path=path, **ctx)


def japanese_error_messages(validation_error: ValidationError) -> dict[str, str]:
    """One Japanese message per invalid field, keyed by dotted path (``resident.name_kana``).

    List items keep their index (``resident.household.2.age``); an error about the whole body
    is keyed ``FORM_ERROR_KEY``. When a field has several errors the first one is kept.
    """
    messages: dict[str, str] = {}
    for error in validation_error.errors():
        loc = tuple(error["loc"])
        path = ".".join(str(part) for part in loc) or FORM_ERROR_KEY
        field = ".".join(part for part in loc if isinstance(part, str))
        if path in messages:
            continue
        if error["type"] in _MESSAGES_JA:
            messages[path] = error["msg"]  # our own errors already speak Japanese
        else:
            messages[path] = _message_ja(path, field, error["type"], error.get("ctx") or {})
    return messages
