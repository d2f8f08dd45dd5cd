"""Per-event CSV report: BOM for Excel, Japanese header, counts by type and stock in and out."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date, datetime

from tsunagu.food_distribution.domain.handout import JST, Handout
from tsunagu.food_distribution.domain.report import (
    HEADER,
    ConsultationEvent,
    event_report_csv,
)
from tsunagu.food_distribution.domain.stock import Movement
from tsunagu.shared.contracts.codes import ParcelType

P = ParcelType
EV = ConsultationEvent("ev-1", "イオンモール川口", date(2026, 11, 28))
AT = datetime(2026, 11, 28, 10, 0, tzinfo=JST)


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def by_type(text: str) -> dict[str, dict[str, str]]:
    header, *body = rows(text)
    return {row[3]: dict(zip(header, row, strict=True)) for row in body}


def sample() -> str:
    handouts = [
        Handout("hh-1", "ev-1", P.STANDARD, AT, "food"),
        Handout("hh-2", "ev-1", P.STANDARD, AT, "food"),
        Handout("hh-3", "ev-1", P.NO_PORK, AT, "sato"),
        Handout("hh-3", "ev-1", P.INFANT, AT, "sato"),  # one household, two types
        Handout("hh-9", "ev-other", P.STANDARD, AT, "food"),  # another event: ignored
    ]
    movements = [
        Movement.receipt("ev-1", P.STANDARD, 20, "フードバンク埼玉"),
        Movement.receipt("ev-1", P.NO_PORK, 5, "モスク有志"),
        Movement.receipt("ev-1", P.INFANT, 2, "donor"),
        Movement.transfer_in("ev-1", P.STANDARD, 4, "ev-east"),
        Movement.transfer_out("ev-1", P.NO_PORK, 1, "ev-east"),
        Movement.adjustment("ev-1", P.STANDARD, -3, "破損"),
        Movement.handout("ev-1", P.STANDARD),
        Movement.handout("ev-1", P.STANDARD),
        Movement.handout("ev-1", P.NO_PORK),
        Movement.handout("ev-1", P.INFANT),
        Movement.receipt("ev-other", P.STANDARD, 99, "donor"),  # another event: ignored
    ]
    return event_report_csv(EV, handouts, movements)


def test_starts_with_utf8_bom_for_excel() -> None:
    assert sample().encode("utf-8").startswith(codecs.BOM_UTF8)


def test_japanese_header_row() -> None:
    assert rows(sample())[0] == list(HEADER)
    assert HEADER[:4] == ("開催ID", "開催日", "会場", "種類")


def test_one_row_per_type_and_a_total() -> None:
    assert list(by_type(sample())) == [
        "標準",
        "豚肉不使用（ハラール対応）",
        "アレルギー対応",
        "乳幼児用",
        "合計",
    ]


def test_counts_by_type_and_stock_movements() -> None:
    table = by_type(sample())
    expected = {
        # type: (households, parcels, receipts, transfers in, transfers out, adjustments, left)
        "標準": ("2", "2", "20", "4", "0", "-3", "19"),
        "豚肉不使用（ハラール対応）": ("1", "1", "5", "0", "1", "0", "3"),
        "アレルギー対応": ("0", "0", "0", "0", "0", "0", "0"),
        "乳幼児用": ("1", "1", "2", "0", "0", "0", "1"),
        "合計": ("3", "4", "27", "4", "1", "-3", "23"),  # 3 distinct households, 4 parcels
    }
    for label, values in expected.items():
        row = table[label]
        assert tuple(row[h] for h in HEADER[4:]) == values, label
        assert (row["開催ID"], row["開催日"], row["会場"]) == ("ev-1", "2026-11-28", EV.venue)


def test_empty_event_still_renders() -> None:
    table = by_type(event_report_csv(EV, [], []))
    assert table["合計"]["配布世帯数"] == "0"
    assert table["合計"]["在庫残数"] == "0"


def test_text_cells_cannot_become_spreadsheet_formulas() -> None:
    event = ConsultationEvent("ev-1", '=HYPERLINK("x")', date(2026, 11, 28))
    assert by_type(event_report_csv(event, [], []))["合計"]["会場"] == '\'=HYPERLINK("x")'
