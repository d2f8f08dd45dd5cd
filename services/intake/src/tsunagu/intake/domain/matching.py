"""Likely duplicates of a resident, shown to intake staff before a new resident is created.

Duplicates split a household's history across programmes, so matching leans towards showing
a possible match: staff decide, the code only ranks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from tsunagu.intake.domain.normalize import phone_digits
from tsunagu.intake.domain.search import kana_close
from tsunagu.shared.text import kana_search_key

__all__ = ["Match", "MatchReason", "ResidentKey", "find_likely_duplicates", "kana_search_key"]

# A phone number's last 8 digits identify it even when the area code is missing or differs
# in writing ("1234-5678" vs "03-1234-5678").
_PHONE_TAIL = 8


class MatchReason(StrEnum):
    FURIGANA = "furigana"
    BIRTH_DATE = "birth_date"
    PHONE = "phone"


# Same name and birthday is the strongest sign; a shared phone may be a household's phone.
_WEIGHTS: dict[MatchReason, int] = {
    MatchReason.FURIGANA: 40,
    MatchReason.BIRTH_DATE: 35,
    MatchReason.PHONE: 25,
}


@dataclass(frozen=True, slots=True)
class ResidentKey:
    """What duplicate matching looks at; any of the three may be unknown."""

    resident_id: str
    name_kana: str | None
    birth_date: date | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Match:
    """An existing resident who may be the candidate; ``score`` is 0-100."""

    resident_id: str
    score: int
    reasons: tuple[MatchReason, ...]


@dataclass(frozen=True, slots=True)
class _Comparable:
    kana: str
    birth_date: date | None
    phone_tail: str

    @classmethod
    def of(cls, key: ResidentKey) -> _Comparable:
        digits = phone_digits(key.phone or "")
        return cls(
            kana=kana_search_key(key.name_kana or ""),
            birth_date=key.birth_date,
            phone_tail=digits[-_PHONE_TAIL:] if len(digits) >= _PHONE_TAIL else "",
        )

    def reasons_shared_with(self, other: _Comparable) -> tuple[MatchReason, ...]:
        reasons: list[MatchReason] = []
        if kana_close(self.kana, other.kana):  # one kana off is still the same name
            reasons.append(MatchReason.FURIGANA)
        if self.birth_date is not None and self.birth_date == other.birth_date:
            reasons.append(MatchReason.BIRTH_DATE)
        if self.phone_tail and self.phone_tail == other.phone_tail:
            reasons.append(MatchReason.PHONE)
        return tuple(reasons)


def find_likely_duplicates(candidate: ResidentKey, existing: Iterable[ResidentKey]) -> list[Match]:
    """Existing residents that share at least two of furigana, birth date and phone.

    Best first; ties keep the order of ``existing``. The candidate's own record (same id) is
    skipped, so this also works when editing a resident.
    """
    wanted = _Comparable.of(candidate)
    matches: list[Match] = []
    for other in existing:
        if other.resident_id == candidate.resident_id:
            continue
        reasons = wanted.reasons_shared_with(_Comparable.of(other))
        if len(reasons) >= 2:
            score = sum(_WEIGHTS[reason] for reason in reasons)
            matches.append(Match(other.resident_id, score, reasons))
    return sorted(matches, key=lambda match: -match.score)
