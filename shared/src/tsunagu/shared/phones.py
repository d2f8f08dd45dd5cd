"""Residents' phone numbers, read, checked and written with ``phonenumbers`` (libphonenumber).

Intake keeps a Japanese number as its domestic digits (``0312345678``); staff see it written
the Japanese way (``03-1234-5678``, ``090-1234-5678``); the SMS provider gets E.164
(``+819012345678``). Only a mobile number can take an SMS: a landline cannot.
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

REGION = "JP"
_MOBILE = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


class PhoneError(ValueError):
    """Not a phone number that can be dialled in Japan."""


def parse(text: str) -> phonenumbers.PhoneNumber:
    """A valid number (Japanese by default; ``+`` for another country), else ``PhoneError``.

    Full-width digits and the IME's long vowel mark ``ー`` for a hyphen are accepted.
    """
    cleaned = unicodedata.normalize("NFKC", text).replace("ー", "-").strip()
    try:
        number = phonenumbers.parse(cleaned, REGION)
    except NumberParseException:
        raise PhoneError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError("not a valid number")
    return number


def domestic_digits(text: str) -> str:
    """How intake stores a Japanese number: its domestic digits with the trunk 0."""
    number = parse(text)
    if number.country_code != 81:
        raise PhoneError("not a Japanese number")
    return "0" + phonenumbers.national_significant_number(number)


def is_mobile(text: str) -> bool:
    try:
        return phonenumbers.number_type(parse(text)) in _MOBILE
    except PhoneError:
        return False


def e164(text: str) -> str:
    """``+819012345678``: what an SMS provider is given."""
    return phonenumbers.format_number(parse(text), PhoneNumberFormat.E164)


def display(text: str | None) -> str:
    """The number as staff write it (``03-1234-5678``); as given if it cannot be read."""
    if not text:
        return ""
    try:
        number = parse(text)
    except PhoneError:
        return text
    style = (
        PhoneNumberFormat.NATIONAL if number.country_code == 81 else PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)
