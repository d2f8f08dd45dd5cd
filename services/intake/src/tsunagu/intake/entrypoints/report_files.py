"""A report as CSV and as an Excel workbook: the same rows (``domain.reports.rows``) in each.

Each row carries the machine codes (section, item, detail), a Japanese label for people, and
the value, so a council can pivot it in Excel and a program can read it back.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from tsunagu.intake.domain import reports
from tsunagu.intake.entrypoints.i18n import concern_label, programme_name

HEADER = ("section", "item", "detail", "label", "value")

SECTION_JA = {
    "summary": "概要",
    "residents": "相談者",
    "concerns": "相談内容",
    "referrals": "窓口別のつなぎ",
    "declined_reasons": "お断りの理由",
    "closed_outcomes": "終結の結果",
    "hours_to_acceptance": "受理までの時間（時間）",
    "food_parcels": "食料品の種類",
    "food": "食料品",
    "per_event": "相談会ごと",
    "per_fiscal_year": "年度ごと",
}
ITEM_JA = {
    "events": "相談会の数",
    "cases": "相談件数",
    "unduplicated": "相談者数（重複なし）",
    "new": "新規",
    "returning": "再来",
    "compound_cases": "複合的な課題のある相談",
    "urgent_cases": "緊急の相談",
    "joint_handling_cases": "2つ以上の窓口が関わった相談",
    "escalations": "期限切れで上げられたつなぎ",
    "accepted": "受理件数",
    "median": "中央値",
    "p90": "90パーセンタイル",
    "parcels_total": "配布数",
    "households_served": "配布世帯数",
    "standard": "標準",
    "no_pork": "豚肉なし",
    "allergy_friendly": "アレルギー対応",
    "infant": "乳幼児向け",
    "residents": "相談者数",
    "parcels": "配布数",
    "date_venue": "日付・会場",
    "suggested": "同意待ち",
    "pending": "未対応",
    "declined": "お断り",
    "in_progress": "対応中",
    "closed": "終結",
    "escalated": "期限超過",
    "withdrawn": "取り下げ",
}


def label(section: str, item: str, detail: str) -> str:
    """A Japanese label for a row, from the codes' own names where there is one."""
    if section == "concerns":
        return concern_label("ja")(item)
    if section in ("referrals", "declined_reasons", "closed_outcomes"):
        return f"{programme_name('ja')(item)} / {ITEM_JA.get(detail, detail)}"
    if section in ("per_event", "per_fiscal_year"):
        suffix = "年度" if section == "per_fiscal_year" else ""
        return f"{item}{suffix} / {ITEM_JA.get(detail, detail)}"
    return f"{SECTION_JA.get(section, section)} / {ITEM_JA.get(item, item)}"


def labelled_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str, Any]]:
    return [(s, i, d, label(s, i, d), v) for s, i, d, v in reports.rows(report)]


def to_csv(report: dict[str, Any]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens the Japanese labels as such."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in labelled_rows(report):
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: dict[str, Any], title: str) -> bytes:
    """A workbook: the rows on one sheet, residents per event on a second."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "report"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(HEADER))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in labelled_rows(report):
        sheet.append(list(row))
    for column, width in zip("ABCDE", (18, 24, 18, 44, 12), strict=True):
        sheet.column_dimensions[column].width = width
    events = book.create_sheet("per_event")
    events.append(
        [
            "date",
            "venue",
            "event_id",
            "cases",
            "residents",
            "new",
            "returning",
            "parcels",
            "households_served",
        ]
    )
    for e in report["per_event"]:
        events.append(
            [
                e["date"],
                e["venue_name"],
                e["event_id"],
                e["cases"],
                e["residents"]["unduplicated"],
                e["residents"]["new"],
                e["residents"]["returning"],
                e["parcels"],
                e["households_served"],
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
