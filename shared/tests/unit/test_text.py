"""Storable text: what PostgreSQL's text cannot hold is found, with where it is."""

from __future__ import annotations

import re

import pytest

from tsunagu.shared.text import NO_CONTROL, NO_NUL, find_unstorable, storable


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
