"""The borrower list import: encodings, row errors by line and field, opt-outs."""

from tsunagu.notify.domain.invitations import RowError, parse_invitation_csv
from tsunagu.shared.contracts.codes import ContactChannel, Language

HEADER = "borrower_ref,name,name_kana,language,channel,email,phone,address,opt_out\n"
ROWS = (
    "TK-0001,山田 花子,ヤマダ ハナコ,ja,letter,,,埼玉県川口市青木1-1-1,false\n"
    "TK-0002,Nguyen Van An,グエン バン アン,vi,sms,,090-1234-5678,,false\n"
    "TK-0003,髙橋 一郎,たかはし いちろう,ja_easy,email,ichiro@example.jp,,,\n"
)


def test_utf8_rows_import() -> None:
    result = parse_invitation_csv((HEADER + ROWS).encode())
    assert result.errors == []
    assert [r.borrower_ref for r in result.rows] == ["TK-0001", "TK-0002", "TK-0003"]
    first, second, third = result.rows
    assert first.line == 2
    assert first.channel is ContactChannel.LETTER
    assert first.address == "埼玉県川口市青木1-1-1"
    assert second.language is Language.VI
    assert second.phone == "09012345678"
    assert third.name == "髙橋 一郎"  # variant kanji kept as written
    assert third.language is Language.JA_EASY


def test_utf8_with_bom() -> None:
    result = parse_invitation_csv(b"\xef\xbb\xbf" + (HEADER + ROWS).encode())
    assert result.errors == []
    assert len(result.rows) == 3


def test_shift_jis_from_excel() -> None:
    text = (HEADER + ROWS).replace("髙", "高")  # 髙 is outside Shift_JIS proper
    for encoding in ("shift_jis", "cp932"):
        result = parse_invitation_csv(text.replace("\n", "\r\n").encode(encoding))
        assert result.errors == []
        assert result.rows[0].name == "山田 花子"
        assert result.rows[2].name_kana == "たかはし いちろう"


def test_cp932_only_characters() -> None:
    row = "TK-0009,髙橋 ①郎,,ja,letter,,,川口市,false\r\n"
    result = parse_invitation_csv((HEADER + row).encode("cp932"))
    assert result.errors == []
    assert result.rows[0].name == "髙橋 ①郎"


def test_a_malformed_row_is_reported_by_line_and_field_and_the_rest_import() -> None:
    first, *rest = ROWS.splitlines(keepends=True)
    bad = "TK-0004,鈴木 次郎,スズキ ジロウ,ja,email,not-an-address,,,false\n"
    result = parse_invitation_csv((HEADER + first + bad + "".join(rest)).encode())
    assert result.errors == [RowError(3, "email", "メールアドレスの形式が正しくありません。")]
    assert [r.borrower_ref for r in result.rows] == ["TK-0001", "TK-0002", "TK-0003"]
    assert [r.line for r in result.rows] == [2, 4, 5]


def test_errors_never_repeat_the_rejected_value() -> None:
    bad = "TK-0004,鈴木 次郎,,ja,sms,,03-1234-5678,,false\n"
    result = parse_invitation_csv((HEADER + bad).encode())
    [error] = result.errors
    assert (error.line, error.field) == (2, "phone")
    assert "1234" not in error.message_ja


def test_line_numbers_count_multi_line_addresses_and_blank_lines() -> None:
    text = (
        HEADER
        + 'TK-0001,山田 花子,,ja,letter,,,"埼玉県川口市青木1-1-1\nコーポ青木 101",false\n'
        + "\n"
        + "TK-0002,,,ja,letter,,,川口市,false\n"
    )
    result = parse_invitation_csv(text.encode())
    assert result.rows[0].address == "埼玉県川口市青木1-1-1\nコーポ青木 101"
    assert [(e.line, e.field) for e in result.errors] == [(5, "name")]


def test_several_fields_wrong_in_one_row_are_all_reported() -> None:
    bad = "TK-0005,佐藤,sato,fr,fax,,,,maybe\n"
    result = parse_invitation_csv((HEADER + bad).encode())
    assert sorted(e.field for e in result.errors) == ["channel", "language", "name_kana", "opt_out"]
    assert {e.line for e in result.errors} == {2}
    assert result.rows == []


def test_opt_out_rows_are_recorded_not_invited() -> None:
    text = (
        HEADER
        + "TK-0001,山田 花子,,ja,letter,,,川口市,true\n"
        + "TK-0002,田中 三郎,,ja,none,,,,\n"
        + "TK-0003,中村 四郎,,ja,email,,,,はい\n"  # opted out: the missing email does not matter
        + "TK-0004,小林 五郎,,en,email,goro@example.jp,,,false\n"
    )
    result = parse_invitation_csv(text.encode())
    assert result.errors == []
    assert result.opted_out == ["TK-0001", "TK-0002", "TK-0003"]
    assert [r.borrower_ref for r in result.rows] == ["TK-0004"]


def test_channel_needs_its_contact_detail() -> None:
    text = (
        HEADER
        + "TK-0001,a,,ja,email,,,,false\n"
        + "TK-0002,b,,ja,sms,,048-123-4567,,false\n"  # a landline cannot take SMS
        + "TK-0003,c,,ja,letter,,,,false\n"
        + "TK-0004,d,,ja,phone,,,,false\n"
    )
    result = parse_invitation_csv(text.encode())
    assert [(e.line, e.field) for e in result.errors] == [
        (2, "email"),
        (3, "phone"),
        (4, "address"),
        (5, "phone"),
    ]


def test_full_width_and_international_numbers_are_normalised() -> None:
    text = (
        HEADER
        + "TK-0001,a,ﾔﾏﾀﾞ ﾊﾅｺ,ja,sms,,０９０－１２３４－５６７８,,false\n"
        + "TK-0002,b,,ja,phone,,+81 48-123-4567,,FALSE\n"
    )
    result = parse_invitation_csv(text.encode())
    assert result.errors == []
    assert [r.phone for r in result.rows] == ["09012345678", "0481234567"]
    assert result.rows[0].name_kana == "ヤマダ ハナコ"


def test_duplicate_references_are_reported() -> None:
    text = HEADER + ROWS + "TK-0001,山田 花子,,ja,letter,,,川口市,false\n"
    result = parse_invitation_csv(text.encode())
    assert [(e.line, e.field) for e in result.errors] == [(5, "borrower_ref")]
    assert len(result.rows) == 3


def test_wrong_column_count() -> None:
    result = parse_invitation_csv((HEADER + "TK-0001,山田 花子\n" + ROWS).encode())
    assert [(e.line, e.field) for e in result.errors] == [(2, "")]
    assert len(result.rows) == 3


def test_missing_columns_in_the_header() -> None:
    result = parse_invitation_csv(b"borrower_ref,name\nTK-1,a\n")
    assert result.rows == []
    assert {e.field for e in result.errors} == {
        "name_kana",
        "language",
        "channel",
        "email",
        "phone",
        "address",
        "opt_out",
    }
    assert {e.line for e in result.errors} == {1}


def test_empty_and_undecodable_files() -> None:
    assert parse_invitation_csv(b"").errors[0].line == 1
    result = parse_invitation_csv(b"\xff\xfe\x00\x81\xff")
    assert result.rows == []
    assert "文字コード" in result.errors[0].message_ja


def test_rows_keep_personal_data_out_of_their_repr() -> None:
    row = parse_invitation_csv((HEADER + ROWS).encode()).rows[0]
    assert "山田" not in repr(row)
    assert "青木" not in repr(row)
