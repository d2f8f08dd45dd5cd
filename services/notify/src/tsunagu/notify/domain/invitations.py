"""Reads the council's list of special-loan borrowers who agreed to be invited to events.

The list comes as CSV, exported from the loan ledger or typed up in a spreadsheet, so it may be
UTF-8 (with or without the BOM Excel writes) or Shift_JIS / cp932. Columns, header first:
``borrower_ref,name,name_kana,language,channel,email,phone,address,opt_out``.

A malformed row is skipped and reported by its line in the file and its field, in Japanese for
the staff who fix the file; the other rows are imported. Rows that opted out (``opt_out``
true, or channel ``none``) are recorded by their reference only and are never invited.
Error messages never repeat the value they reject: they may be shown or logged.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from tsunagu.shared.contracts.codes import ContactChannel, Language
from tsunagu.shared.text import find_unstorable

COLUMNS: tuple[str, ...] = (
    "borrower_ref",
    "name",
    "name_kana",
    "language",
    "channel",
    "email",
    "phone",
    "address",
    "opt_out",
)

_TRUE = frozenset({"true", "1", "yes", "y", "はい", "○", "〇"})
_FALSE = frozenset({"false", "0", "no", "n", "いいえ", ""})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\u30fc\u30fb\s]+")
# Japanese numbers: ten or eleven digits from a leading 0. Mobiles (070/080/090) take SMS.
_PHONE = re.compile(r"0\d{9,10}")
_MOBILE = re.compile(r"0[789]0\d{8}")


@dataclass(frozen=True)
class RowError:
    line: int  # line in the file, the header being line 1
    field: str  # column name, or "" for the whole row / file
    message_ja: str


@dataclass(frozen=True)
class InvitationRow:
    line: int
    borrower_ref: str
    name: str = field(repr=False)
    name_kana: str = field(repr=False)
    language: Language
    channel: ContactChannel
    email: str = field(repr=False)
    phone: str = field(repr=False)  # digits only, domestic form
    address: str = field(repr=False)


@dataclass(frozen=True)
class ImportResult:
    rows: list[InvitationRow]
    errors: list[RowError]
    opted_out: list[str] = field(default_factory=list)  # borrower refs, never invited


def parse_invitation_csv(raw: bytes) -> ImportResult:
    """Parse the borrower list; every row is either imported, opted out or reported."""
    try:
        text = _decode(raw)
    except UnicodeDecodeError:
        message = "文字コードを判別できません。UTF-8 または Shift_JIS で保存してください。"
        return ImportResult([], [RowError(1, "", message)])

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return ImportResult([], [RowError(1, "", "ファイルが空です。")])
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return ImportResult([], [RowError(1, c, "見出し行にこの列がありません。") for c in missing])

    rows: list[InvitationRow] = []
    errors: list[RowError] = []
    opted_out: list[str] = []
    seen: set[str] = set()
    line = reader.line_num + 1  # first line of the next record
    for record in reader:
        record_line, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            errors.append(RowError(record_line, "", "列の数が見出し行と合いません。"))
            continue
        if find_unstorable(record) is not None:
            # PostgreSQL text cannot hold it: the row is reported, never half-stored.
            errors.append(RowError(record_line, "", "使用できない文字（NUL）が含まれています。"))
            continue
        values = {h: _normalise(h, v) for h, v in zip(header, record, strict=True)}
        row, row_errors, opts_out = _parse_row(record_line, values, seen)
        errors.extend(row_errors)
        if row_errors:
            continue
        seen.add(values["borrower_ref"])
        if opts_out:
            opted_out.append(values["borrower_ref"])
        elif row is not None:
            rows.append(row)
    return ImportResult(rows, errors, opted_out)


def _decode(raw: bytes) -> str:
    # Valid Shift_JIS text is seldom valid UTF-8, so trying UTF-8 first is a safe guess.
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp932")


def _normalise(column: str, value: str) -> str:
    # Full-width digits and letters, half-width kana: NFKC folds them. Names and addresses are
    # kept as written, since NFKC would replace variant kanji people write their names with.
    if column in ("name", "address"):
        return value.strip()
    return unicodedata.normalize("NFKC", value).strip()


def _parse_row(
    line: int, v: dict[str, str], seen: set[str]
) -> tuple[InvitationRow | None, list[RowError], bool]:
    """(row, errors, opted out) for one record whose cells are already normalised."""
    errors: list[RowError] = []

    def error(column: str, message: str) -> None:
        errors.append(RowError(line, column, message))

    ref = v["borrower_ref"]
    if not ref:
        error("borrower_ref", "貸付番号が空です。")
    elif ref in seen:
        error("borrower_ref", "同じ貸付番号が前の行にもあります。")

    opt_out = v["opt_out"].lower()
    if opt_out not in _TRUE | _FALSE:
        error("opt_out", "opt_out は true または false で入力してください。")
    channel_code = v["channel"].lower()
    if opt_out in _TRUE or channel_code == ContactChannel.NONE:
        # Opted out: only the reference is kept, so nothing else needs to be valid.
        return None, errors, True

    if not v["name"]:
        error("name", "氏名が空です。")
    if v["name_kana"] and not _KANA.fullmatch(v["name_kana"]):
        error("name_kana", "ふりがなは、ひらがなまたはカタカナで入力してください。")

    language = Language.JA
    if v["language"]:
        try:
            language = Language(v["language"].lower())
        except ValueError:
            error("language", "言語コードが正しくありません（ja, ja_easy, en, zh, vi）。")

    channel: ContactChannel | None = None
    try:
        channel = ContactChannel(channel_code)
    except ValueError:
        error("channel", "連絡方法が正しくありません（email, sms, letter, phone, none）。")

    email = v["email"]
    if email and not _EMAIL.fullmatch(email):
        error("email", "メールアドレスの形式が正しくありません。")
    phone = re.sub(r"[-()\s]", "", v["phone"])
    if phone.startswith("+81"):
        phone = "0" + phone[3:]
    if phone and not _PHONE.fullmatch(phone):
        error("phone", "電話番号の形式が正しくありません。")

    if channel is ContactChannel.EMAIL and not email:
        error("email", "連絡方法がメールですが、メールアドレスが空です。")
    elif channel is ContactChannel.SMS and not _MOBILE.fullmatch(phone):
        error("phone", "連絡方法が SMS ですが、携帯電話番号がありません。")
    elif channel is ContactChannel.PHONE and not phone:
        error("phone", "連絡方法が電話ですが、電話番号が空です。")
    elif channel is ContactChannel.LETTER and not v["address"]:
        error("address", "連絡方法が郵送ですが、住所が空です。")

    if errors or channel is None:
        return None, errors, False
    row = InvitationRow(
        line=line,
        borrower_ref=ref,
        name=v["name"],
        name_kana=v["name_kana"],
        language=language,
        channel=channel,
        email=email,
        phone=phone,
        address=v["address"],
    )
    return row, errors, False
