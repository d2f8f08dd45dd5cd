"""Furigana, phone and birth-date normalisation, including era boundaries; venue readings."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsunagu.intake.domain.normalize import (
    ERAS,
    VENUE_KANA_MAX_LENGTH,
    BirthDateError,
    ReadingError,
    age_on,
    format_era,
    is_kana_name,
    normalize_kana,
    parse_birth_date,
    phone_digits,
    venue_kana,
)

# --- furigana -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("かわぐち はなこ", "かわぐちはなこ"),
        ("カワグチ ハナコ", "かわぐちはなこ"),
        ("カワグチ\u3000ハナコ", "かわぐちはなこ"),  # full-width space
        ("ｶﾜｸﾞﾁ ﾊﾅｺ", "かわぐちはなこ"),  # half-width with separate dakuten
        ("ﾊﾟｸ ｼﾞﾖﾝ", "ぱくじよん"),  # handakuten
        ("  かわぐち\tはなこ  ", "かわぐちはなこ"),
        ("ルーシー", "るーしー"),  # long-vowel mark kept
        ("ﾙｰｼｰ", "るーしー"),  # half-width long-vowel mark
        ("ル-シ―", "るーしー"),  # dashes typed for ー
        ("ヴァン", "ゔぁん"),
        ("ｳﾞｧﾝ", "ゔぁん"),
        ("グエン・ヴァン・アン", "ぐえんゔぁんあん"),  # 中黒 separates foreign names
        ("ｸﾞｴﾝ･ｳﾞｧﾝ", "ぐえんゔぁん"),  # half-width 中黒
        ("ジャン＝ピエール", "じゃんぴえーる"),
        ("さゝき", "さゝき"),
        ("", ""),
    ],
)
def test_normalize_kana(written: str, expected: str) -> None:
    assert normalize_kana(written) == expected


@pytest.mark.parametrize(
    ("written", "is_kana"),
    [
        ("かわぐち はなこ", True),
        ("ｶﾜｸﾞﾁ ﾊﾅｺ", True),
        ("ルーシー", True),
        ("グエン・ヴァン・アン", True),
        ("川口 花子", False),
        ("kawaguchi", False),
        ("かわぐち1", False),
        ("   ", False),
        ("・", False),
        ("", False),
    ],
)
def test_is_kana_name(written: str, is_kana: bool) -> None:
    assert is_kana_name(written) is is_kana


katakana = st.text(alphabet=st.characters(min_codepoint=0x30A1, max_codepoint=0x30F6))


@given(katakana)
def test_katakana_and_hiragana_fold_to_the_same_key(text: str) -> None:
    hiragana = "".join(chr(ord(ch) - 0x60) for ch in text)
    assert normalize_kana(text) == normalize_kana(hiragana) == hiragana


@given(st.text())
def test_normalize_kana_is_idempotent(text: str) -> None:
    once = normalize_kana(text)
    assert normalize_kana(once) == once


# --- a venue name's reading -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("ひがしかわぐちえきまえぎょうせいせんたー", "ひがしかわぐちえきまえぎょうせいせんたー"),
        ("イオンモール", "いおんもーる"),  # katakana folded to hiragana
        ("ｸﾘﾆｯｸ ｺﾐｭﾆﾃｨｽﾍﾟｰｽ", "くりにっく こみゅにてぃすぺーす"),  # half-width, dakuten apart
        ("  くりにっく\u3000\u3000こみゅにてぃ  ", "くりにっく こみゅにてぃ"),  # one space kept
        ("せんた-", "せんたー"),  # a dash typed for ー
        ("ぐえん・ゔぁん", "ぐえん・ゔぁん"),  # the middle dot stays
        ("ｸﾞｴﾝ･ｳﾞｧﾝ", "ぐえん・ゔぁん"),  # half-width middle dot
        ("さゝき", "さゝき"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_a_venue_reading_is_stored_in_hiragana(written: str | None, stored: str | None) -> None:
    assert venue_kana(written) == stored


@pytest.mark.parametrize(
    "written",
    ["東川口駅前", "ひがしかわぐち センター1", "higashikawaguchi", "ー", "・ ・", "ヷ", "かな！"],
)
def test_a_venue_reading_that_is_not_hiragana_is_refused_in_two_languages(written: str) -> None:
    with pytest.raises(ReadingError) as refused:
        venue_kana(written)
    assert refused.value.code == "kana_only"
    assert "ひらがな" in refused.value.message
    assert "hiragana" in refused.value.message_en
    if len(written) > 2:  # the words never repeat what was typed
        assert written not in refused.value.message + refused.value.message_en


def test_a_venue_reading_counts_its_length_once_folded() -> None:
    assert venue_kana("あ" * VENUE_KANA_MAX_LENGTH) == "あ" * VENUE_KANA_MAX_LENGTH
    with pytest.raises(ReadingError) as refused:
        venue_kana("あ" * (VENUE_KANA_MAX_LENGTH + 1))
    assert refused.value.code == "string_too_long"
    # ㌀ is one character typed and four kana (あぱーと) stored.
    with pytest.raises(ReadingError):
        venue_kana("㌀" * 26)


@given(st.text(alphabet="あいうえおかがアイウエオカガｱｲｶﾞー・ 　-"))
def test_a_venue_reading_once_stored_is_stored_again_unchanged(text: str) -> None:
    try:
        stored = venue_kana(text)
    except ReadingError:
        return
    assert venue_kana(stored) == stored


# --- phone numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("090-1234-5678", "09012345678"),
        ("09012345678", "09012345678"),
        ("090 1234 5678", "09012345678"),
        ("０９０－１２３４－５６７８", "09012345678"),  # full width
        ("090ー1234ー5678", "09012345678"),  # IME long-vowel mark as hyphen
        ("(048) 123-4567", "0481234567"),
        ("（０４８）１２３－４５６７", "0481234567"),
        ("+81 90-1234-5678", "09012345678"),
        ("+819012345678", "09012345678"),
        ("＋８１ ９０ １２３４ ５６７８", "09012345678"),
        ("+81 (0)90-1234-5678", "09012345678"),
        ("+81 48-123-4567", "0481234567"),
        ("", ""),
        ("なし", ""),
    ],
)
def test_phone_digits(written: str, expected: str) -> None:
    assert phone_digits(written) == expected


# --- birth dates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # Western calendar
        ("1948-05-01", date(1948, 5, 1)),
        ("1948/5/1", date(1948, 5, 1)),
        ("1948.5.1", date(1948, 5, 1)),
        ("19480501", date(1948, 5, 1)),
        ("1948年5月1日", date(1948, 5, 1)),
        ("１９４８年５月１日", date(1948, 5, 1)),
        ("１９４８－０５－０１", date(1948, 5, 1)),
        (" 1948 年 5 月 1 日 ", date(1948, 5, 1)),
        # Japanese era calendar, every way it gets written
        ("昭和23年5月1日", date(1948, 5, 1)),
        ("昭和２３年５月１日", date(1948, 5, 1)),
        ("昭和23年5月1日\u3000", date(1948, 5, 1)),
        ("昭和 23年 5月 1日", date(1948, 5, 1)),
        ("昭和23年5月1", date(1948, 5, 1)),
        ("昭23.5.1", date(1948, 5, 1)),
        ("S23.5.1", date(1948, 5, 1)),
        ("s23/5/1", date(1948, 5, 1)),
        ("S23-05-01", date(1948, 5, 1)),
        ("Ｓ２３．５．１", date(1948, 5, 1)),
        ("㍼23年5月1日", date(1948, 5, 1)),  # the one-character era sign
        ("平成元年1月8日", date(1989, 1, 8)),
        ("平成1年1月8日", date(1989, 1, 8)),
        ("H1.1.8", date(1989, 1, 8)),
        ("h01.01.08", date(1989, 1, 8)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和5年4月1日", date(2023, 4, 1)),
        ("R5.4.1", date(2023, 4, 1)),
        ("㋿5年4月1日", date(2023, 4, 1)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("T10.3.3", date(1921, 3, 3)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("明治45年7月29日", date(1912, 7, 29)),
        ("M40.2.11", date(1907, 2, 11)),
        ("大正元年7月30日", date(1912, 7, 30)),
    ],
)
def test_parse_birth_date(written: str, expected: date) -> None:
    assert parse_birth_date(written) == expected


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        # Era boundaries: the day after an era ends and the day before one starts.
        ("昭和64年1月8日", "昭和は昭和64年1月7日（1989年1月7日）までです"),
        ("S64.1.8", "昭和は昭和64年1月7日"),
        ("昭和65年1月1日", "昭和は昭和64年1月7日"),
        ("平成元年1月7日", "平成は平成元年1月8日（1989年1月8日）からです"),
        ("H1.1.7", "平成は平成元年1月8日"),
        ("平成31年5月1日", "平成は平成31年4月30日"),
        ("令和元年4月30日", "令和は令和元年5月1日"),
        ("大正15年12月25日", "大正は大正15年12月24日"),
        ("昭和元年12月24日", "昭和は昭和元年12月25日"),
        ("明治45年7月30日", "明治は明治45年7月29日"),
        ("大正元年7月29日", "大正は大正元年7月30日"),
        ("昭和0年5月1日", "昭和は元年（1年）からです"),
        # Days that do not exist.
        ("1948-02-30", "存在しない日付です"),
        ("昭和23年13月1日", "存在しない日付です"),
        ("平成3年2月29日", "存在しない日付です"),
        # Not a date at all.
        ("", "例: 1948-05-01 または 昭和23年5月1日"),
        ("昭和", "例: 1948-05-01"),
        ("5/1/1948", "例: 1948-05-01"),
        ("48-05-01", "例: 1948-05-01"),
        ("X23.5.1", "例: 1948-05-01"),
        ("昭和二十三年五月一日", "例: 1948-05-01"),
        ("昭和23年", "例: 1948-05-01"),
    ],
)
def test_parse_birth_date_rejects(written: str, reason: str) -> None:
    with pytest.raises(BirthDateError, match=r"^生年月日が正しくありません") as raised:
        parse_birth_date(written)
    assert reason in str(raised.value)


def test_birth_date_error_is_a_value_error() -> None:
    assert issubclass(BirthDateError, ValueError)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(1948, 5, 1), "昭和23年5月1日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2023, 4, 1), "令和5年4月1日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1912, 7, 29), "明治45年7月29日"),
    ],
)
def test_format_era(day: date, expected: str) -> None:
    assert format_era(day) == expected


def test_format_era_before_meiji() -> None:
    with pytest.raises(ValueError, match="Meiji"):
        format_era(date(1800, 1, 1))


@given(st.dates(min_value=ERAS[0].first_day, max_value=date(2100, 12, 31)))
def test_era_text_reads_back_to_the_same_day(day: date) -> None:
    assert parse_birth_date(format_era(day)) == day
    assert parse_birth_date(day.isoformat()) == day


@pytest.mark.parametrize(
    ("birth", "on", "expected"),
    [
        (date(1948, 5, 1), date(2025, 4, 30), 76),
        (date(1948, 5, 1), date(2025, 5, 1), 77),
        (date(1948, 5, 1), date(1948, 5, 1), 0),
        (date(1960, 2, 29), date(2025, 2, 28), 64),  # a common year: not yet
        (date(1960, 2, 29), date(2025, 3, 1), 65),
        (date(1960, 2, 29), date(2024, 2, 29), 64),
    ],
)
def test_age_on(birth: date, on: date, expected: int) -> None:
    assert age_on(birth, on) == expected


def test_age_on_before_birth() -> None:
    with pytest.raises(ValueError, match="before"):
        age_on(date(2000, 1, 1), date(1999, 12, 31))
