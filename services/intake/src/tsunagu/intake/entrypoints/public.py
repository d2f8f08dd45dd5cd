"""What residents read, without logging in: upcoming events and each event's printable flyer.

Nothing here touches a case or a resident; it shows events, venues and programmes only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from tsunagu.intake.adapters import flyer
from tsunagu.intake.entrypoints import public_words as words
from tsunagu.intake.entrypoints import schemas
from tsunagu.intake.entrypoints.web import intake
from tsunagu.intake.service_layer import planning
from tsunagu.shared.contracts.codes import Programme
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)

_PROGRAMMES = {p.value: p for p in Programme}


def page_url(request: Request) -> str:
    """The residents' page, as printed on the flyer and linked from invitations."""
    return intake(request).settings.intake_url.rstrip("/") + "/events"


def _programmes(event: dict[str, Any]) -> set[Programme]:
    return {_PROGRAMMES[p] for p in event["programmes"] if p in _PROGRAMMES}


@router.get("/events", response_class=HTMLResponse)
async def events_page(request: Request, lang: str | None = None) -> HTMLResponse:
    """Upcoming consultation days in the resident's language (?lang=ja|easy|en|zh|vi)."""
    app = intake(request)
    code = words.language(lang)
    today = app.today()
    async with app.transaction() as session:
        events = await planning.upcoming_events(session, today)
    html_lang, _ = words.LANGUAGES[code]
    text = (lambda s: words.ruby(s)) if code == "easy" else (lambda s: s)
    listed = [
        {
            **event,
            "day": text(words.day(code, event["event_date"])),
            # The venue's name as the council typed it; in やさしい日本語 with its reading.
            "venue": (
                words.ruby_of(event["venue_name"], event["venue_name_kana"])
                if code == "easy"
                else event["venue_name"]
            ),
            "hours": words.hours(event["opens_at"], event["closes_at"]),
            "topics": [text(t) for t in words.topics(code, _programmes(event))],
            "is_today": event["event_date"] == today,
        }
        for event in events
    ]
    return app.templates.TemplateResponse(
        request,
        "public_events.html",
        {
            "lang": code,
            "html_lang": html_lang,
            "w": lambda key: text(words.word(code, key)),
            "languages": words.LANGUAGES,
            "events": listed,
        },
    )


@router.get("/events/{event_id}/flyer.pdf")
async def flyer_pdf(
    request: Request,
    event_id: Annotated[str, Path(pattern=schemas.ID_PATTERN, max_length=64)],
    lang: str | None = None,
) -> Response:
    """The event's A4 flyer in the residents' page's languages (?lang=ja|easy|en|zh|vi), with a
    QR code to that page in the same language. やさしい日本語 prints its readings in brackets."""
    app = intake(request)
    code = words.language(lang)
    async with app.transaction() as session:
        event = await planning.public_event(session, event_id)
    if event is None:
        raise HTTPException(404, "見つかりません (not found)")
    try:
        font = flyer.find_font(app.settings.extra.get("flyer_font"))
    except flyer.FontMissing:
        log.error("flyer_font_missing")
        raise HTTPException(503, "チラシ用のフォントがありません (flyer font missing)") from None
    paper = words.bracketed if code == "easy" else (lambda s: s)
    w = lambda key: paper(words.word(code, key))  # noqa: E731
    text = flyer.FlyerText(
        lang=words.LANGUAGES[code][0],
        council=w("council"),
        title=w("title"),
        # A date's readings in brackets would break it over lines: it is printed plain.
        date=words.plain(words.day(code, event["event_date"])),
        hours=words.hours(event["opens_at"], event["closes_at"]),
        venue=event["venue_name"],
        # やさしい日本語 prints the venue name's reading in brackets, under the name.
        venue_reading=event["venue_name_kana"] if code == "easy" else None,
        address=event["address"],
        access=event["access"],
        lead=w("lead"),
        topics_heading=w("topics"),
        topics=[paper(t) for t in words.topics(code, _programmes(event))],
        food=w("food"),
        scan=w("scan"),
        url=page_url(request) + ("" if code == "ja" else f"?lang={code}"),
        labels={k: w(k) for k in ("hours", "venue", "address", "access")},
    )
    pdf = await run_in_threadpool(flyer.render, text, font)
    name = f"flyer-{event['event_date']:%Y%m%d}{'' if code == 'ja' else '-' + code}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-cache"},
    )
