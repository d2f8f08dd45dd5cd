"""The furigana search key: one spelling for hiragana/katakana, full/half width and spacing."""

from __future__ import annotations

import unicodedata

# Katakana ァ..ヶ sit exactly 0x60 above hiragana ぁ..ゖ.
_FOLD = str.maketrans({code: code - 0x60 for code in range(ord("ァ"), ord("ヶ") + 1)})
# Separators within foreign names (ジャン＝ピエール・…) are not typed the same way twice.
_DROP = str.maketrans("", "", "・=")


def kana_key(text: str) -> str:
    """Fold furigana for search: NFKC (half-width kana, full-width letters), hiragana, no spaces."""
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(folded.split())  # every kind of whitespace, U+3000 included
    return folded.translate(_FOLD).translate(_DROP).lower()


def case_number_key(text: str) -> str:
    """Case numbers as typed on a tablet: full-width digits and stray spaces folded away."""
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()
