"""What staff typed in the search box, read as the things a case can be found by.

One box takes a reception number (in full, or only its last digits: 「42」 finds ``…-0042``),
a phone number (all of it or its end), a birth date in either calendar (``1948-05-01``,
``昭和23年5月1日``), furigana, or a name. Text that could be more than one of these is read as
each of them, and a case matching any is found.

Furigana is matched loosely, because one kana off is how the same person is written twice
(``ゆうみ`` and ``ゆみ``, ``おお`` and ``お``): ``kana_close`` is the rule, shared with the
duplicate hint (``domain.matching``).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from rapidfuzz.distance import Levenshtein

from tsunagu.intake.domain.normalize import (
    BirthDateError,
    is_kana_name,
    parse_birth_date,
    phone_digits,
)
from tsunagu.shared.text import kana_search_key

MAX_QUERY = 100
_CASE_NUMBER = re.compile(r"^K-?(\d{8})-?(\d{1,4})$", re.IGNORECASE)
_DIGITS_AND_PUNCTUATION = re.compile(r"^[\d\-()+ ]+$")
#: Fewer digits than this are a reception number's end, not a phone number.
_PHONE_MIN = 6


@dataclass(frozen=True)
class SearchTerms:
    case_number: str | None = None  # K-YYYYMMDD-NNNN in full
    number_tail: str | None = None  # the last four digits, zero-padded
    phone: str | None = None  # digits: all of a number (10-11) or its end
    birth_date: date | None = None
    kana_key: str | None = None  # kana_search_key of furigana typed
    name: str | None = None  # part of a name as written

    @property
    def kinds(self) -> list[str]:
        """Which kinds were searched for (for the audit log: never the text itself)."""
        return [k for k, v in self.__dict__.items() if v is not None]

    @property
    def empty(self) -> bool:
        return not self.kinds


def parse_query(q: str) -> SearchTerms:
    text = unicodedata.normalize("NFKC", q).strip()[:MAX_QUERY]
    if not text:
        return SearchTerms()
    found: dict[str, object] = {}
    number = _CASE_NUMBER.match(text)
    if number:
        found["case_number"] = f"K-{number.group(1)}-{int(number.group(2)):04d}"
    elif _DIGITS_AND_PUNCTUATION.match(text):
        digits = phone_digits(text)
        if 1 <= len(digits) <= 4:
            found["number_tail"] = digits.zfill(4)
        elif len(digits) >= _PHONE_MIN:
            found["phone"] = digits
    with contextlib.suppress(BirthDateError):
        found["birth_date"] = parse_birth_date(text)
    if is_kana_name(text):
        found["kana_key"] = kana_search_key(text)
    elif not found and any(ch.isalpha() for ch in text):
        found["name"] = "".join(text.split())
    return SearchTerms(**found)  # type: ignore[arg-type]


def allowed_edits(key: str) -> int:
    """Kana that may differ: none for two kana or fewer, one up to seven, two beyond."""
    n = len(key)
    if n <= 2:
        return 0
    return 1 if n <= 7 else 2


def kana_close(a: str, b: str) -> bool:
    """Two furigana keys (``kana_search_key``) that may be the same name."""
    if not a or not b:
        return False
    edits = allowed_edits(min(a, b, key=len))
    return Levenshtein.distance(a, b, score_cutoff=edits) <= edits


def kana_found_in(query: str, key: str) -> bool:
    """Whether the furigana typed (a whole name, or only the family or given name) is in
    ``key`` allowing for one kana off: ``ゆうみ`` finds ``かわぐちゆみ``."""
    if not query or not key:
        return False
    if query in key:
        return True
    edits = allowed_edits(query)
    if edits == 0:
        return False
    n = len(query)
    for length in range(max(1, n - edits), n + edits + 1):
        for start in range(0, max(0, len(key) - length) + 1):
            window = key[start : start + length]
            if Levenshtein.distance(query, window, score_cutoff=edits) <= edits:
                return True
    return False
