"""The furigana: opened with the resident's key to show it, and one search spelling for
hiragana/katakana, full/half width and spacing."""

from __future__ import annotations

import unicodedata

from tsunagu.shared.crypto import ContactSealError, Sealer
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
