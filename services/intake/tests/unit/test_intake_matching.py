"""Likely duplicates: which records match, why, and in which order."""

from __future__ import annotations

from datetime import date

import pytest

from tsunagu.intake.domain.matching import (
    Match,
    MatchReason,
    ResidentKey,
    find_likely_duplicates,
    kana_search_key,
)

BIRTH = date(1948, 5, 1)
CANDIDATE = ResidentKey("new", "かわぐち はなこ", BIRTH, "090-1234-5678")


def key(
    resident_id: str = "r1",
    name_kana: str | None = None,
    birth_date: date | None = None,
    phone: str | None = None,
) -> ResidentKey:
    return ResidentKey(resident_id, name_kana, birth_date, phone)


@pytest.mark.parametrize(
    ("existing", "reasons"),
    [
        # All three, written differently.
        (
            key(name_kana="ｶﾜｸﾞﾁ ﾊﾅｺ", birth_date=BIRTH, phone="09012345678"),
            ("furigana", "birth_date", "phone"),
        ),
        (
            key(name_kana="カワグチ\u3000ハナコ", birth_date=BIRTH, phone="+81 90 1234 5678"),
            ("furigana", "birth_date", "phone"),
        ),
        # Any two of the three.
        (key(name_kana="カワグチハナコ", birth_date=BIRTH), ("furigana", "birth_date")),
        (
            key(name_kana="かわぐちはなこ", phone="０９０－１２３４－５６７８"),
            ("furigana", "phone"),
        ),
        (
            key(name_kana="かわぐち ゆうこ", birth_date=BIRTH, phone="090-1234-5678"),
            ("birth_date", "phone"),
        ),
        # Last 8 digits are enough (area or mobile prefix missing).
        (key(name_kana="かわぐちはなこ", phone="1234-5678"), ("furigana", "phone")),
        # One kana off (a voicing mark, ゆうみ/ゆみ) is how one person gets written twice.
        (key(name_kana="かわくち はなこ", birth_date=BIRTH), ("furigana", "birth_date")),
        # Two kana off in a short name is a different name: only one reason left.
        (key(name_kana="かわくち はなえ", birth_date=BIRTH), ()),
        # Only one reason: no match.
        (key(name_kana="かわぐちはなこ"), ()),
        (key(birth_date=BIRTH), ()),
        (key(phone="090-1234-5678"), ()),
        (key(name_kana="かわぐちはなこ", birth_date=date(1948, 5, 2), phone="090-0000-0000"), ()),
        # Unknown fields never match each other.
        (key(), ()),
    ],
)
def test_reasons(existing: ResidentKey, reasons: tuple[str, ...]) -> None:
    matches = find_likely_duplicates(CANDIDATE, [existing])
    assert [m.reasons for m in matches] == ([reasons] if reasons else [])


def test_small_kana_written_full_size_match() -> None:
    candidate = key("new", "きょうこ", BIRTH)
    assert find_likely_duplicates(candidate, [key("old", "キヨウコ", BIRTH)]) == [
        Match("old", 75, (MatchReason.FURIGANA, MatchReason.BIRTH_DATE))
    ]


def test_unknown_fields_on_both_sides_do_not_match() -> None:
    candidate = key("new", None, None, None)
    assert find_likely_duplicates(candidate, [key("old", "", None, "")]) == []


def test_short_phone_numbers_do_not_match() -> None:
    candidate = key("new", "やまだ", None, "1234")
    assert find_likely_duplicates(candidate, [key("old", "やまだ", None, "1234")]) == []


def test_ranked_by_score_then_input_order() -> None:
    existing = [
        key("phone+birth", "べつじん", BIRTH, "09012345678"),
        key("kana+phone", "かわぐちはなこ", None, "09012345678"),
        key("all", "かわぐちはなこ", BIRTH, "09012345678"),
        key("nobody", "たなか", date(1950, 1, 1), "0312345678"),
        key("kana+birth", "かわぐちはなこ", BIRTH, None),
        key("kana+birth 2", "カワグチハナコ", BIRTH, "08000000000"),
    ]
    matches = find_likely_duplicates(CANDIDATE, existing)
    assert [(m.resident_id, m.score) for m in matches] == [
        ("all", 100),
        ("kana+birth", 75),
        ("kana+birth 2", 75),
        ("kana+phone", 65),
        ("phone+birth", 60),
    ]


def test_the_candidate_itself_is_skipped() -> None:
    assert find_likely_duplicates(CANDIDATE, [CANDIDATE]) == []


def test_reasons_are_the_contract_strings() -> None:
    assert [r.value for r in MatchReason] == ["furigana", "birth_date", "phone"]


def test_accepts_any_iterable() -> None:
    existing = (key(f"r{i}", "かわぐちはなこ", BIRTH) for i in range(3))
    assert len(find_likely_duplicates(CANDIDATE, existing)) == 3


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("かわぐち はなこ", "かわぐちはなこ"),
        ("ｶﾜｸﾞﾁ ﾊﾅｺ", "かわぐちはなこ"),
        ("キョウコ", "きようこ"),
        ("きようこ", "きようこ"),
        ("ミツヅ", "みつず"),
        ("ちぢみ", "ちじみ"),
        ("ルーシー", "るーしー"),
        ("", ""),
    ],
)
def test_kana_search_key(written: str, expected: str) -> None:
    assert kana_search_key(written) == expected


def test_one_kana_off_in_the_given_name_is_still_a_likely_duplicate() -> None:
    candidate = ResidentKey("", "かわぐち ゆうみ", BIRTH, None)
    existing = ResidentKey("r-1", "カワグチ ユミ", BIRTH, None)
    [match] = find_likely_duplicates(candidate, [existing])
    assert match.reasons == ("furigana", "birth_date")
