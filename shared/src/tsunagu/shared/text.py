"""Text every service handles alike: what PostgreSQL can store, and furigana folding.

Storable text: NUL and lone surrogates are valid in JSON, URLs and forms, but a PostgreSQL
``text`` column cannot hold them, so every service refuses them at its edge with a clear error
(never a 500, never half-stored): `storable` / `find_unstorable` for values and nested bodies,
`NO_NUL` / `NO_CONTROL` as patterns for FastAPI parameters and pydantic fields.

Furigana folding: intake matches likely duplicates by it; the food desk finds a household by
it. One spelling for hiragana/katakana, full/half width, spaces and separators, so a search
finds the same people in every service. `to_hiragana` is the same folding with the spaces and
separators kept, for a reading that is shown rather than compared.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import jaconv

#: A pattern for a parameter or field that must be storable: no NUL (a pattern also makes a
#: lone surrogate invalid).
NO_NUL = r"^[^\x00]*$"
#: Stricter, for names and ids typed at a desk: no control characters but tab and line breaks.
#: U+001C-U+001F are blank to Python's ``strip`` but not to pydantic's whitespace stripping, so
#: "\x1f" would pass as a value there and fail as a blank one in plain code.
NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"


def storable(value: str) -> bool:
    """False for NUL or a lone surrogate: PostgreSQL text cannot hold them."""
    return "\x00" not in value and not any("\ud800" <= ch <= "\udfff" for ch in value)


def find_unstorable(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """The path of the first string (or key, shown as ``?``) in ``value`` that cannot be
    stored, if any: ``value`` may be a string or nested dicts, lists and tuples."""
    if isinstance(value, str):
        return None if storable(value) else path
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and not storable(key):
                return (*path, "?")
            found = find_unstorable(item, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_unstorable(item, (*path, index))
            if found is not None:
                return found
    return None


# Dashes typed, pasted or OCR'd where a long-vowel mark was meant.
_LONG_VOWEL_LOOKALIKES = "-‐‑‒–—―−"
# Separators between family and given name, or within foreign names (ジャン＝ピエール・…).
_NAME_SEPARATORS = "・="

_LONG_VOWEL = str.maketrans({ord(ch): "ー" for ch in _LONG_VOWEL_LOOKALIKES})
_DROP_SEPARATORS = str.maketrans({ord(ch): None for ch in _NAME_SEPARATORS})
# Small kana were often written full-size on older paper forms (きよう for きょう), and ぢ/づ
# are commonly spelt じ/ず, so the search key folds them.
_SEARCH_FOLD = str.maketrans("ぁぃぅぇぉっゃゅょゎゕゖぢづ", "あいうえおつやゆよわかけじず")


def to_hiragana(s: str) -> str:
    """Kana as hiragana in one width, spaces and separators kept: a reading people read.

    NFKC turns half-width katakana (including ｶﾞ with a separate dakuten) and full-width
    letters into their standard forms; dashes typed for the long-vowel mark become ー, which
    is kept because it is part of the reading (ルーシー); katakana then become hiragana
    (``jaconv.kata2hira``, iteration marks ヽヾ included; ヷ..ヺ have no hiragana and stay).
    """
    return jaconv.kata2hira(unicodedata.normalize("NFKC", s).translate(_LONG_VOWEL))


def normalize_kana(s: str) -> str:
    """Fold furigana to one spelling: hiragana (`to_hiragana`), no width differences, no
    spaces and no separators."""
    text = unicodedata.normalize("NFKC", s)
    text = "".join(text.split()).translate(_DROP_SEPARATORS)  # U+3000 is whitespace too
    # Dropping a space or separator can leave a combining mark next to a letter it now
    # composes with (NFKC turns ´ into space + U+0301): to_hiragana normalises again, so the
    # key is stable.
    return to_hiragana(text)


def kana_search_key(s: str) -> str:
    """The furigana key stored in an indexed column and compared when searching."""
    return normalize_kana(s).translate(_SEARCH_FOLD)


def fits_after_nfkc(value: str, max_length: int) -> str:
    """NFKC-normalise ``value`` and check its length *after* normalising: one character can
    grow into several (``㌀`` is ``アパート``), so a check on the typed text lets a value through
    that the column cannot hold. Raises pydantic's ``string_too_long`` (a 422, never a 500)."""
    from pydantic_core import PydanticCustomError

    text = unicodedata.normalize("NFKC", value)
    if len(text) > max_length:
        raise PydanticCustomError(
            "string_too_long",
            "String should have at most {max_length} characters",
            {"max_length": max_length},
        )
    return text
