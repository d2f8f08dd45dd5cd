"""The furigana search key: one spelling for hiragana/katakana, full/half width and spacing."""

from __future__ import annotations

import unicodedata

from tsunagu.shared.text import kana_search_key


def kana_key(text: str) -> str:
    """Fold furigana for search, exactly as intake does (``tsunagu.shared.text``)."""
    return kana_search_key(text).lower()


def case_number_key(text: str) -> str:
    """Case numbers as typed on a tablet: full-width digits and stray spaces folded away."""
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()
