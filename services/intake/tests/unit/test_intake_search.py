"""The search box: what typed text is read as, and the loose furigana rule."""

from __future__ import annotations

from datetime import date

import pytest

from tsunagu.intake.domain.search import kana_close, kana_found_in, parse_query


@pytest.mark.parametrize(
    ("typed", "field", "value"),
    [
        ("42", "number_tail", "0042"),
        ("０４２", "number_tail", "0042"),  # full-width digits
        ("K-20250601-0042", "case_number", "K-20250601-0042"),
        ("k202506010042", "case_number", "K-20250601-0042"),
        ("090-1234-5678", "phone", "09012345678"),
        ("1234-5678", "phone", "12345678"),
        ("昭和23年5月1日", "birth_date", date(1948, 5, 1)),
        ("1948-05-01", "birth_date", date(1948, 5, 1)),
        ("カワグチ　ユウミ", "kana_key", "かわぐちゆうみ"),
        ("川口 花子", "name", "川口花子"),
    ],
)
def test_what_typed_text_is_read_as(typed: str, field: str, value: object) -> None:
    terms = parse_query(typed)
    assert getattr(terms, field) == value
    assert field in terms.kinds


def test_blank_is_no_search() -> None:
    assert parse_query("   ").empty


@pytest.mark.parametrize(
    ("typed", "key", "found"),
    [
        ("ゆうみ", "かわぐちゆみ", True),  # one kana off, given name only
        ("かわぐちゆうみ", "かわぐちゆみ", True),
        ("かわくち", "かわぐちはなこ", True),  # a voicing mark missed
        ("ゆみ", "かわぐちゆみ", True),  # exactly part of the key
        ("ゆみ", "かわぐちゆうみ", False),  # two kana: no room for error
        ("たなか", "かわぐちゆみ", False),
        ("すずきはなこ", "かわぐちはなこ", False),
    ],
)
def test_furigana_is_found_one_kana_off(typed: str, key: str, found: bool) -> None:
    assert kana_found_in(typed, key) is found


def test_kana_close_is_symmetric_and_strict_for_short_names() -> None:
    assert kana_close("かわぐちゆうみ", "かわぐちゆみ") and kana_close(
        "かわぐちゆみ", "かわぐちゆうみ"
    )
    assert not kana_close("ゆみ", "ゆき")
    assert not kana_close("", "")
