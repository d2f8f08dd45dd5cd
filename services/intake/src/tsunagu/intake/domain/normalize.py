"""Normalising what residents tell us: furigana, phone numbers and birth dates (incl. 和暦); and
the reading of a venue's name that admins give for やさしい日本語."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from tsunagu.shared.text import normalize_kana, to_hiragana

__all__ = [
    "ERAS",
    "VENUE_KANA_MAX_LENGTH",
    "BirthDateError",
    "Era",
    "ReadingError",
    "age_on",
    "format_era",
    "is_kana_name",
    "normalize_kana",
    "parse_birth_date",
    "phone_digits",
    "venue_kana",
]

# --- furigana -------------------------------------------------------------------------------


def _is_kana_char(ch: str) -> bool:
    # Hiragana ぁ..ゖ, iteration marks ゝゞ, the long-vowel mark, and ヷ..ヺ (no hiragana form).
    return "ぁ" <= ch <= "ゖ" or ch in "ゝゞー" or "ヷ" <= ch <= "ヺ"


def is_kana_name(s: str) -> bool:
    """True if ``s`` is a furigana reading: only kana, long-vowel marks and separators."""
    folded = normalize_kana(s)
    return bool(folded) and all(_is_kana_char(ch) for ch in folded)


# --- a venue name's reading -----------------------------------------------------------------

VENUE_KANA_MAX_LENGTH = 100


class ReadingError(ValueError):
    """A venue's reading that cannot be used: ``message`` in Japanese, ``message_en`` in English.

    Neither repeats the input, so both are safe to show and to log.
    """

    def __init__(self, code: str, message: str, message_en: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_en = message_en


def _is_reading_char(ch: str) -> bool:
    # Hiragana ぁ..ゖ, the iteration marks ゝゞ, the long-vowel mark, the middle dot and a space.
    return "ぁ" <= ch <= "ゖ" or ch in "ゝゞー・ "


def venue_kana(s: str | None) -> str | None:
    """The reading of a venue's name in hiragana, as the residents' page sets it over the name
    (ruby) in やさしい日本語; ``None`` when none is given (blank).

    Katakana and half-width kana are folded to hiragana and dashes typed for ー become ー
    (`tsunagu.shared.text.to_hiragana`); runs of spaces (full-width too) become one. Anything
    else (kanji, letters, digits, ヷ..ヺ which have no hiragana) raises `ReadingError`, as does a
    reading longer than ``VENUE_KANA_MAX_LENGTH`` once folded or one with no kana at all.
    """
    if s is None or not s.strip():
        return None
    text = " ".join(to_hiragana(s).split())
    if not all(_is_reading_char(ch) for ch in text) or all(ch in "ー・ " for ch in text):
        raise ReadingError(
            "kana_only",
            "会場名のよみがなは、ひらがなで入力してください（「ー」、スペース、「・」も使えます）",
            "The venue name's reading must be in hiragana (ー, spaces and ・ may be used)",
        )
    if len(text) > VENUE_KANA_MAX_LENGTH:
        raise ReadingError(
            "string_too_long",
            f"会場名のよみがなは{VENUE_KANA_MAX_LENGTH}文字以内で入力してください",
            f"The venue name's reading must be at most {VENUE_KANA_MAX_LENGTH} characters",
        )
    return text


# --- phone numbers --------------------------------------------------------------------------


def phone_digits(s: str) -> str:
    """The digits of a phone number in domestic form (``+81 90-…`` becomes ``090…``).

    Full-width digits count as digits; everything else (hyphens, brackets, spaces) is dropped.
    """
    text = unicodedata.normalize("NFKC", s).strip()
    digits = "".join(ch for ch in text if ch in "0123456789")
    if text.startswith("+81"):
        rest = digits[2:]
        # "+81 (0)90-…" already carries the trunk 0.
        digits = rest if rest.startswith("0") else "0" + rest
    return digits


# --- birth dates and the Japanese era calendar ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Era:
    """A Japanese era (元号): its name, its initial and the days it covers."""

    name: str
    initial: str
    first_day: date
    last_day: date | None  # None: the current era

    def covers(self, day: date) -> bool:
        return self.first_day <= day and (self.last_day is None or day <= self.last_day)


ERAS: tuple[Era, ...] = (
    # Meiji starts at its proclamation; nobody born before it is within the 120-year age limit.
    Era("明治", "M", date(1868, 10, 23), date(1912, 7, 29)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", date(2019, 5, 1), None),
)

# An era is written in full (昭和), as one character (昭) or as its initial (S or s).
_ERA_BY_TOKEN: dict[str, Era] = {
    token: era for era in ERAS for token in (era.name, era.name[0], era.initial.lower())
}

_SEP_YEAR = r"[-/.年]"
_SEP_MONTH = r"[-/.月]"
_WESTERN = re.compile(rf"(\d{{4}}){_SEP_YEAR}(\d{{1,2}}){_SEP_MONTH}(\d{{1,2}})日?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ERA_TOKENS = "|".join(sorted(_ERA_BY_TOKEN, key=len, reverse=True))
_JAPANESE = re.compile(
    rf"({_ERA_TOKENS})(元|\d{{1,2}}){_SEP_YEAR}(\d{{1,2}}){_SEP_MONTH}(\d{{1,2}})日?",
    re.IGNORECASE,
)

BIRTH_DATE_HELP = "生年月日が正しくありません（例: 1948-05-01 または 昭和23年5月1日）"


class BirthDateError(ValueError):
    """A birth date that cannot be read or does not exist; the message is Japanese.

    The message never repeats the input, so it is safe to show and to log.
    """


def _invalid(reason: str) -> BirthDateError:
    return BirthDateError(f"生年月日が正しくありません。{reason}")


def _both_calendars(day: date) -> str:
    return f"{format_era(day)}（{day.year}年{day.month}月{day.day}日）"


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise _invalid("存在しない日付です") from None


def parse_birth_date(s: str) -> date:
    """Read a birth date written in the Western or the Japanese era calendar.

    Accepts 1948-05-01, 1948/5/1, 1948.5.1, 19480501, 1948年5月1日, 昭和23年5月1日, 昭23.5.1,
    S23.5.1, s23/5/1, 平成元年1月8日, in full- or half-width characters. A date outside its
    era (昭和64年1月8日, 平成元年1月7日) is rejected.
    """
    text = "".join(unicodedata.normalize("NFKC", s).split())
    if m := _WESTERN.fullmatch(text) or _COMPACT.fullmatch(text):
        return _make_date(int(m[1]), int(m[2]), int(m[3]))
    if not (m := _JAPANESE.fullmatch(text)):
        raise BirthDateError(BIRTH_DATE_HELP)

    era = _ERA_BY_TOKEN[m[1].lower()]
    era_year = 1 if m[2] == "元" else int(m[2])
    if era_year < 1:
        raise _invalid(f"{era.name}は元年（1年）からです")
    day = _make_date(era.first_day.year + era_year - 1, int(m[3]), int(m[4]))
    if day < era.first_day:
        raise _invalid(f"{era.name}は{_both_calendars(era.first_day)}からです")
    if era.last_day is not None and day > era.last_day:
        raise _invalid(f"{era.name}は{_both_calendars(era.last_day)}までです")
    return day


def age_on(birth: date, on_date: date) -> int:
    """Age in completed years on ``on_date``.

    Someone born on 29 February turns a year older on 1 March in common years, which is also
    what the Japanese age-reckoning law gives.
    """
    if on_date < birth:
        raise ValueError("on_date is before the birth date")
    had_birthday = (on_date.month, on_date.day) >= (birth.month, birth.day)
    return on_date.year - birth.year - (0 if had_birthday else 1)


def format_era(day: date) -> str:
    """The date in the Japanese era calendar, e.g. ``昭和23年5月1日`` or ``平成元年1月8日``."""
    for era in ERAS:
        if era.covers(day):
            era_year = day.year - era.first_day.year + 1
            year_text = "元" if era_year == 1 else str(era_year)
            return f"{era.name}{year_text}年{day.month}月{day.day}日"
    raise ValueError("date is before the Meiji era")
