"""The reports page: one event or a period, its figures as tables and as charts (Chart.js).

The charts draw from a JSON block on the page (``static/reports.js``); every chart has its table
beside it, so the figures are there without script, for screen readers and on paper.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tsunagu.intake.domain import access
from tsunagu.intake.domain import reports as domain_reports
from tsunagu.intake.entrypoints.pages.rendering import forbid_unless, id_or_none, render
from tsunagu.intake.entrypoints.report_files import ITEM_JA
from tsunagu.intake.entrypoints.web import intake, staff, who
from tsunagu.intake.service_layer import reports
from tsunagu.intake.service_layer import staff as staff_service
from tsunagu.intake.service_layer.errors import Invalid
from tsunagu.shared.auth import Principal

router = APIRouter()

# key: (日本語, English)
WORDS: dict[str, tuple[str, str]] = {
    "title": ("相談会の報告", "Consultation day reports"),
    "choose": ("対象", "Report on"),
    "event": ("相談会", "Event"),
    "month": ("月", "Month"),
    "fiscal_year": ("年度（4月〜3月）", "Fiscal year (April–March)"),
    "from": ("開始日", "From"),
    "to": ("終了日", "To"),
    "venue": ("会場", "Venue"),
    "all_venues": ("すべての会場", "All venues"),
    "show": ("表示", "Show"),
    "download": ("ダウンロード", "Download"),
    "csv": ("CSV", "CSV"),
    "xlsx": ("Excel（xlsx）", "Excel (xlsx)"),
    "print": ("印刷", "Print"),
    "events": ("相談会の数", "Events"),
    "cases": ("相談件数", "Cases"),
    "residents": ("相談者数（重複なし）", "Residents (each once)"),
    "new": ("新規", "New"),
    "returning": ("再来", "Returning"),
    "compound": ("複合的な課題", "Compound cases"),
    "urgent": ("緊急", "Urgent cases"),
    "joint": ("2つ以上の窓口で対応", "Handled by 2+ programmes"),
    "escalations": ("期限超過で上げられたつなぎ", "Escalated referrals"),
    "acceptance": ("受理までの時間（時間）", "Hours to acceptance"),
    "median": ("中央値", "Median"),
    "p90": ("90パーセンタイル", "90th percentile"),
    "accepted_n": ("受理件数", "Accepted"),
    "per_event": ("相談会ごとの相談者数", "Residents per event"),
    "concerns": ("相談内容", "Concerns"),
    "outcomes": ("窓口ごとのつなぎの状況", "Referrals by programme and status"),
    "reasons": ("お断りの理由・終結の結果", "Decline reasons and closing outcomes"),
    "food": ("食料品の配布", "Food parcels"),
    "parcels": ("配布数", "Parcels"),
    "households": ("配布世帯数", "Households served"),
    "per_year": ("年度ごと", "Per fiscal year"),
    "date": ("日付", "Date"),
    "programme": ("窓口", "Programme"),
    "count": ("件数", "Count"),
    "empty": ("この対象の相談はまだありません。", "No cases in this report yet."),
    "anonymous": (
        "数だけを表示しています。個人を特定する情報は含みません。",
        "Counts only: nothing here identifies anyone.",
    ),
}
STATUS_EN = {
    "suggested": "Awaiting basis",
    "pending": "Pending",
    "accepted": "Accepted",
    "declined": "Declined",
    "in_progress": "In progress",
    "closed": "Closed",
    "escalated": "Overdue",
    "withdrawn": "Withdrawn",
}
STATUS_JA = {
    "suggested": "同意待ち",
    "pending": "未対応",
    "accepted": "受理",
    "declined": "お断り",
    "in_progress": "対応中",
    "closed": "終結",
    "escalated": "期限超過",
    "withdrawn": "取り下げ",
}
PARCEL_EN = {
    "standard": "Standard",
    "no_pork": "No pork",
    "allergy_friendly": "Allergy-friendly",
    "infant": "Infant",
}


def _words(lang: str) -> Any:
    index = 1 if lang == "en" else 0
    return lambda key: WORDS[key][index]


@router.get("/reports")
async def reports_page(
    request: Request,
    principal: Annotated[Principal, Depends(staff)],
    event_id: Annotated[str | None, Query(max_length=64)] = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
    fiscal_year: Annotated[str | None, Query(max_length=4)] = None,
    from_date: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    to_date: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    venue_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Admins and managers; by default the most recent event with a date up to today."""
    forbid_unless(access.can_read_reports(who(principal)))
    app = intake(request)
    today = app.today()
    venue = id_or_none(venue_id) or None
    error: str | None = None
    query: dict[str, str] = {}
    async with app.transaction() as session:
        venues = await staff_service.list_venues(session)
        recent = await staff_service.list_events(
            session, from_date=today - timedelta(days=3 * 366), to_date=today + timedelta(days=60)
        )
        scope: reports.Scope | None = None
        try:
            if month or fiscal_year or from_date or to_date:
                scope = reports.period_scope(
                    month=month or None,
                    fiscal_year=int(fiscal_year) if fiscal_year else None,
                    from_date=_date(from_date),
                    to_date=_date(to_date),
                    venue_id=venue,
                )
                query = {
                    k: v
                    for k, v in {
                        "month": month,
                        "fiscal_year": fiscal_year,
                        "from": from_date,
                        "to": to_date,
                        "venue_id": venue,
                    }.items()
                    if v
                }
            else:
                chosen = id_or_none(event_id)
                if chosen is None:
                    past = [e for e in recent if e["event_date"] <= today]
                    chosen = past[-1]["event_id"] if past else None
                if chosen is not None:
                    scope = reports.Scope(event_id=chosen)
        except (Invalid, ValueError) as exc:
            error = exc.message if isinstance(exc, Invalid) else "日付の形が正しくありません"
        report = None
        if scope is not None:
            report = await reports.report(session, principal.username, scope)
            if scope.event_id is not None and not report["events"]:
                report = None
    export = None
    if report is not None:
        if scope is not None and scope.event_id is not None:
            export = f"/api/v1/reports/events/{scope.event_id}"
            query = {}
        else:
            export = "/api/v1/reports/period"
    lang = request.scope.get("tsunagu.lang", "ja")
    return render(
        request,
        "reports.html",
        principal,
        status_code=422 if error else 200,
        r=_words(lang),
        report=report,
        error=error,
        events=list(reversed(recent)),
        venues=venues,
        selected={
            "event_id": scope.event_id if scope else None,
            "month": month or "",
            "fiscal_year": fiscal_year or "",
            "from": from_date or "",
            "to": to_date or "",
            "venue_id": venue or "",
        },
        export=export,
        export_query=lambda fmt: urlencode({**query, "format": fmt}),
        chart_data=None if report is None else _chart_data(report, lang),
        status_label=(STATUS_EN if lang == "en" else STATUS_JA).get,
        parcel_label=(lambda s: PARCEL_EN.get(s, s)) if lang == "en" else ITEM_JA.get,
        statuses=domain_reports.STATUSES,
    )


def _date(value: str | None) -> Any:
    from datetime import date

    return date.fromisoformat(value) if value else None


def _chart_data(report: dict[str, Any], lang: str) -> dict[str, Any]:
    """What the three charts draw: labels in the page's language, the report's numbers."""
    from tsunagu.intake.entrypoints.i18n import concern_label, programme_name

    concern = concern_label(lang)
    programme = programme_name(lang)
    words = _words(lang)
    labels = STATUS_EN if lang == "en" else STATUS_JA
    by_programme = report["referrals"]["by_programme"]
    return {
        "perEvent": {
            "labels": [f"{e['date']} {e['venue_name']}" for e in report["per_event"]],
            "new": [e["residents"]["new"] for e in report["per_event"]],
            "returning": [e["residents"]["returning"] for e in report["per_event"]],
            "newLabel": words("new"),
            "returningLabel": words("returning"),
        },
        "concerns": {
            # Long labels on two lines, so that a phone's narrow chart keeps them readable.
            "labels": [_lines(concern(c)) for c in report["concerns"]],
            "values": list(report["concerns"].values()),
            "label": words("cases"),
        },
        "outcomes": {
            "labels": [_lines(programme(p)) for p in by_programme],
            "series": [
                {
                    "label": labels[s],
                    "status": s,
                    "values": [by_programme[p][s] for p in by_programme],
                }
                for s in domain_reports.STATUSES
            ],
        },
    }


def _lines(label: str, width: int = 10) -> str | list[str]:
    """A label longer than ``width`` on two lines, split at its first separator (Chart.js draws
    a list as lines); a shorter one as it is."""
    if len(label) <= width:
        return label
    for sep in ("・", " / ", " "):
        head, found, tail = label.partition(sep)
        if found and head and tail:
            return [head + ("・" if sep == "・" else ""), tail]
    return [label[:width], label[width:]]
