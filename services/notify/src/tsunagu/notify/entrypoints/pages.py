"""Notify's staff pages (Japanese): failures, the letter queue, the call list, invitations.

Forms are cookie-authenticated and carry the session's CSRF token (``auth.check_csrf``).
Pages that show residents' names, numbers or letters are sent with ``Cache-Control:
no-store``. ``/dev/mail`` and ``/dev/sms`` (what the dev catchers received) exist in dev and
test only.
"""

# No "from __future__ import annotations": FastAPI reads the route-local Annotated aliases.
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from starlette.datastructures import UploadFile

from tsunagu.notify.adapters.orm import PERMANENT_FAILURE, SCHEDULED, TRANSIENT_FAILURE
from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.notify.entrypoints.http import (
    DELIVERY_READERS,
    DELIVERY_RETRIERS,
    RESIDENT_WORK,
    only_programmes,
    run_import,
)
from tsunagu.notify.service_layer import views
from tsunagu.notify.service_layer.invitations import EventDetails
from tsunagu.notify.service_layer.scheduling import Notify
from tsunagu.shared.auth import CSRF_FIELD, Authenticator, Principal, check_csrf
from tsunagu.shared.contracts.codes import ContactTime, Language
from tsunagu.shared.text import find_unstorable, storable

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates" / "pages")
NO_STORE = {"Cache-Control": "no-store"}

LABELS: dict[str, dict[str, str]] = {
    "status": {
        "scheduled": "送信予定",
        "sending": "送信中",
        "sent": "送信済み",
        "transient_failure": "再送待ち",
        "permanent_failure": "送信失敗",
        "suppressed": "送信しない（記録）",
    },
    "template": {
        "new_referral": "新しい紹介",
        "consent_withdrawn": "同意の撤回",
        "referral_escalated": "期限超過",
        "referral_declined": "紹介の辞退",
        "stock_low": "在庫不足",
        "acknowledgement": "受付のお知らせ",
        "programme_accepted": "担当決定のお知らせ",
        "event_invitation": "相談会のご案内",
    },
    "channel": {
        "email": "メール",
        "sms": "SMS",
        "letter": "郵送",
        "phone": "電話",
        "webhook": "チャット",
        "none": "—",
    },
    "recipient": {
        "team": "事業の担当チーム",
        "supervisor": "事業の責任者",
        "intake_staff": "受付担当者",
        "resident": "相談者",
        "food_lead": "食料配布リーダー",
        "borrower": "特例貸付の借受人",
    },
    "reason": {
        "do_not_contact": "連絡不要の希望",
        "no_consented_channel": "同意された連絡方法なし",
        "contact_unknown": "連絡先不明",
        "recipient_unknown": "宛先不明",
        "opted_out": "案内不要の希望",
    },
    "language": {
        Language.JA: "日本語",
        Language.JA_EASY: "やさしい日本語",
        Language.EN: "英語",
        Language.ZH: "中国語",
        Language.VI: "ベトナム語",
    },
    "contact_time": {
        ContactTime.ANY: "指定なし",
        ContactTime.MORNING: "午前",
        ContactTime.AFTERNOON: "午後",
        ContactTime.EVENING: "夕方",
    },
}


def _label(value: Any, kind: str) -> str:
    if value is None:
        return ""
    return LABELS[kind].get(str(value), str(value))


def _jst(value: datetime | None) -> str:
    return value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if value else ""


templates.env.filters["label"] = _label
templates.env.filters["jst"] = _jst
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD


def create_pages(runtime: Any, authenticator: Authenticator) -> APIRouter:
    """``runtime``: the ``NotifyRuntime`` (notify, sessions, sealer, settings)."""
    router = APIRouter(include_in_schema=False)
    notify: Notify = runtime.notify
    sessions = runtime.sessions
    tables = notify.tables
    dev = runtime.settings.env in ("dev", "test")
    Staff = Annotated[Principal, Depends(authenticator.require())]
    Readers = Annotated[Principal, Depends(authenticator.require(*DELIVERY_READERS))]
    Retriers = Annotated[Principal, Depends(authenticator.require(*DELIVERY_RETRIERS))]
    ResidentWork = Annotated[Principal, Depends(authenticator.require(*RESIDENT_WORK))]

    def page(
        request: Request, name: str, staff: Principal, status_code: int = 200, **context: Any
    ) -> Response:
        context = {"staff": staff, "dev": dev, **context}
        return templates.TemplateResponse(
            request, name, context, status_code=status_code, headers=NO_STORE
        )

    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request, staff: Staff) -> Response:
        d, letter, call = tables.delivery, tables.letter, tables.phone_call
        async with sessions() as session:
            by_status = dict(
                (await session.execute(select(d.c.status, func.count()).group_by(d.c.status))).all()
            )
            letters = (
                await session.execute(
                    select(func.count()).select_from(letter).where(letter.c.posted_at.is_(None))
                )
            ).scalar_one()
            calls = (
                await session.execute(
                    select(func.count()).select_from(call).where(call.c.done_at.is_(None))
                )
            ).scalar_one()
        counts = {
            "scheduled": by_status.get(SCHEDULED, 0) + by_status.get(TRANSIENT_FAILURE, 0),
            "failures": by_status.get(PERMANENT_FAILURE, 0),
            "letters": letters,
            "calls": calls,
        }
        return page(request, "index.html", staff, counts=counts)

    @router.get("/failures", response_class=HTMLResponse)
    async def failures(request: Request, staff: Readers, retried: bool = False) -> Response:
        async with sessions() as session:
            rows = await views.failures(session, tables, only_programmes=only_programmes(staff))
        return page(request, "failures.html", staff, rows=rows, retried=retried)

    @router.post("/failures/{delivery_id}/retry")
    async def retry(request: Request, delivery_id: str, staff: Retriers) -> Response:
        await check_csrf(request, staff)
        async with sessions() as session, session.begin():
            await views.retry(
                session,
                tables,
                _row_id(delivery_id),
                notify.now(),
                only_programmes=only_programmes(staff),
            )
        return RedirectResponse("/failures?retried=true", status_code=303)

    @router.get("/letters", response_class=HTMLResponse)
    async def letters(request: Request, staff: ResidentWork, posted: bool = False) -> Response:
        async with sessions() as session:
            rows = await views.letters(session, tables, include_posted=posted)
        return page(request, "letters.html", staff, rows=rows, posted=posted)

    @router.get("/letters/{letter_id}", response_class=HTMLResponse)
    async def letter(letter_id: str, staff: ResidentWork, download: bool = False) -> Response:
        # Its own transactions: none is open while the resident's key is asked of intake.
        document = await views.letter_document(
            sessions, tables, runtime.sealer, _row_id(letter_id), staff.username
        )
        if document is None:
            raise HTTPException(404, "手紙が見つかりません")
        headers = dict(NO_STORE)
        if download:
            safe = re.sub(r"[^A-Za-z0-9-]", "", letter_id)
            headers["Content-Disposition"] = f'attachment; filename="letter-{safe}.html"'
        return HTMLResponse(document, headers=headers)

    @router.post("/letters/{letter_id}/posted")
    async def letter_posted(request: Request, letter_id: str, staff: ResidentWork) -> Response:
        await check_csrf(request, staff)
        async with sessions() as session, session.begin():
            await views.mark_letter_posted(
                session, tables, _row_id(letter_id), staff.username, notify.now()
            )
        return RedirectResponse("/letters", status_code=303)

    @router.get("/calls", response_class=HTMLResponse)
    async def calls(request: Request, staff: ResidentWork) -> Response:
        rows = await views.calls(sessions, tables, runtime.sealer, staff.username)
        return page(request, "calls.html", staff, rows=rows)

    @router.post("/calls/{call_id}/done")
    async def call_done(request: Request, call_id: str, staff: ResidentWork) -> Response:
        await check_csrf(request, staff)
        async with sessions() as session, session.begin():
            await views.mark_call_done(
                session, tables, _row_id(call_id), staff.username, notify.now()
            )
        return RedirectResponse("/calls", status_code=303)

    @router.get("/invitations", response_class=HTMLResponse)
    async def invitations(request: Request, staff: ResidentWork) -> Response:
        return page(request, "invitations.html", staff, result=None, error=None, form={})

    @router.post("/invitations", response_class=HTMLResponse)
    async def invitations_import(request: Request, staff: ResidentWork) -> Response:
        await check_csrf(request, staff)
        form = await request.form()
        values = {k: str(form.get(k) or "").strip() for k in _EVENT_FIELDS}
        upload = form.get("file")
        event, error = _event_details(values)
        if error is None and not isinstance(upload, UploadFile):
            error = "CSV ファイルを選んでください。"
        if error is not None or event is None or not isinstance(upload, UploadFile):
            return page(
                request, "invitations.html", staff, 422, result=None, error=error, form=values
            )
        summary = await run_import(
            notify, sessions, runtime.invitation_sealer, upload, event, staff
        )
        return page(request, "invitations.html", staff, result=summary, error=None, form=values)

    return router


def _row_id(value: str) -> str:
    """An id from the path; one PostgreSQL text cannot hold names nothing: 404."""
    if not storable(value):
        raise HTTPException(404, "見つかりません")
    return value


_EVENT_FIELDS = ("event_id", "event_date", "opens_at", "closes_at", "venue_name", "venue_address")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _event_details(v: dict[str, str]) -> tuple[EventDetails | None, str | None]:
    if not all(v.values()):
        return None, "相談会の情報をすべて入力してください。"
    if find_unstorable(list(v.values())) is not None:
        return None, "使用できない文字が含まれています。"
    try:
        event_date = date.fromisoformat(v["event_date"])
    except ValueError:
        return None, "開催日は YYYY-MM-DD の形で入力してください。"
    if not (_TIME.fullmatch(v["opens_at"]) and _TIME.fullmatch(v["closes_at"])):
        return None, "時刻は 10:00 のように入力してください。"
    if len(v["event_id"]) > 64:
        return None, "相談会 ID が長すぎます。"
    event = EventDetails(
        v["event_id"],
        event_date,
        v["opens_at"],
        v["closes_at"],
        v["venue_name"],
        v["venue_address"],
    )
    return event, None


def dev_pages(runtime: Any, authenticator: Authenticator) -> APIRouter:
    """``/dev/mail`` and ``/dev/sms``: every email and SMS the dev catchers received."""
    router = APIRouter(include_in_schema=False)
    Staff = Annotated[Principal, Depends(authenticator.require())]

    @router.get("/dev/mail", response_class=HTMLResponse)
    async def dev_mail(request: Request, staff: Staff) -> Response:
        async with runtime.sessions() as session:
            mails = await views.dev_mail(session, runtime.notify.tables)
        catcher = runtime.mail_catcher
        context = {"staff": staff, "dev": True, "mails": mails, "catcher": catcher}
        return templates.TemplateResponse(request, "dev_mail.html", context, headers=NO_STORE)

    @router.get("/dev/sms", response_class=HTMLResponse)
    async def dev_sms(request: Request, staff: Staff) -> Response:
        async with runtime.sessions() as session:
            messages = await views.dev_sms(session, runtime.notify.tables)
        context = {"staff": staff, "dev": True, "messages": messages, "sink": runtime.sms_sink}
        return templates.TemplateResponse(request, "dev_sms.html", context, headers=NO_STORE)

    return router
