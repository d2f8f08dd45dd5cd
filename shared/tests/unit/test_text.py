"""Storable text: what PostgreSQL's text cannot hold is found, with where it is; kana folding."""

from __future__ import annotations

import re

import pytest

from tsunagu.shared.text import (
    NO_CONTROL,
    NO_NUL,
    find_unstorable,
    normalize_kana,
    storable,
    to_hiragana,
)


def test_text_postgresql_cannot_store_is_found_with_its_path() -> None:
    assert find_unstorable({"a": ["ok", "bad\x00"]}) == ("a", 1)
    assert find_unstorable({"b": {"c": "\ud800"}}) == ("b", "c")
    assert find_unstorable({"k\x00": "fine"}) == ("?",)
    assert find_unstorable(("ok", "\udfff")) == (1,)
    assert find_unstorable({"fine": ["川口", 1, None, "𠮷野家"]}) is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [("川口 花子", True), ("𠮷", True), ("a\x00b", False), ("\ud83d", False), ("", True)],
)
def test_storable(value: str, ok: bool) -> None:
    assert storable(value) is ok


def test_the_patterns_refuse_nul_and_the_stricter_one_control_characters() -> None:
    assert re.match(NO_NUL, "行1\n行2\t") and not re.match(NO_NUL, "a\x00")
    assert re.match(NO_CONTROL, "行1\n行2\t")
    assert not re.match(NO_CONTROL, "a\x1fb") and not re.match(NO_CONTROL, "a\x7f")


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (
            "グエン・ヴァン　アン",
            "ぐえん・ゔぁん あん",
        ),  # separators and spaces kept (NFKC: U+3000)
        ("ｾﾝﾀ-", "せんたー"),  # half-width, and a dash typed for ー
        ("東川口センター", "東川口せんたー"),  # what is not kana is left for the caller to judge
    ],
)
def test_to_hiragana_folds_as_normalize_kana_does_but_keeps_spaces_and_separators(
    written: str, shown: str
) -> None:
    assert to_hiragana(written) == shown
    assert normalize_kana(written) == normalize_kana(shown)
