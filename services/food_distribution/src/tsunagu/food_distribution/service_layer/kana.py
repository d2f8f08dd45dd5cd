"""The furigana: opened with the resident's key to show it, and one search spelling for
hiragana/katakana, full/half width and spacing.

Opening asks intake for the residents' keys over HTTP (ADR 12): call these with no database
transaction open, so a slow or absent intake holds no pooled connection.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from tsunagu.shared.crypto import ContactSealError, Sealer, is_resident_sealed
from tsunagu.shared.internal import KeyUnavailable
from tsunagu.shared.logs import get_logger
from tsunagu.shared.text import kana_search_key

log = get_logger(__name__)


def kana_key(text: str) -> str:
    """Fold furigana for search, exactly as intake does (``tsunagu.shared.text``)."""
    return kana_search_key(text).lower()


def case_number_key(text: str) -> str:
    """Case numbers as typed on a tablet: full-width digits and stray spaces folded away."""
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


async def open_kana(sealer: Sealer, sealed: str | None) -> str | None:
    """The furigana, or None if there is none, the resident was erased, or the key cannot be
    had just now (the household can still be found by its case number)."""
    if not sealed:
        return None
    try:
        value = await sealer.open(sealed)
    except ContactSealError:
        return None
    except KeyUnavailable:
        log.warning("kana_key_unavailable")
        return None
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:200]


async def open_kanas(sealer: Sealer, sealed: Sequence[str | None]) -> list[str | None]:
    """Each furigana as ``open_kana`` gives it, the residents' keys fetched from intake in one
    request first. If intake cannot answer that, no resident's furigana is asked for again one
    by one (each would wait for the same absent intake): they are left out, and only values
    sealed with the shared key, which need no key from intake, are opened."""
    try:
        await sealer.prefetch(sealed)
    except KeyUnavailable:
        log.warning("kana_key_unavailable")
        return [
            None if value and is_resident_sealed(value) else await open_kana(sealer, value)
            for value in sealed
        ]
    return [await open_kana(sealer, value) for value in sealed]
