"""The food desk page: find a household, see its status, hand a parcel out in one tap.

Served by this service at ``/desk`` for the ``food_desk`` role (admins too). It shows only what a
handout needs: case number, furigana, eligibility, what was already received, stock per type.
Forms carry the session's CSRF token and, per button, an Idempotency-Key, so a double tap or a
resubmitted form records one handout.
"""

# No "from __future__ import annotations": FastAPI resolves the route-local Desk alias.
import asyncio
import json
import unicodedata
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from tsunagu.food_distribution.domain.handout import JST
from tsunagu.food_distribution.domain.labels import PARCEL_TYPE_LABELS_JA
from tsunagu.food_distribution.service_layer import cases, handouts, households, queries, stock
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.food_distribution.service_layer.errors import FoodError, Invalid
from tsunagu.food_distribution.service_layer.kana import case_number_key
from tsunagu.shared import errors
from tsunagu.shared.auth import CSRF_FIELD, Authenticator, Principal, check_csrf
from tsunagu.shared.change_feed import ChangeFeed
from tsunagu.shared.contracts.codes import ParcelType, StaffRole
from tsunagu.shared.revocation import RevocationCache
from tsunagu.shared.text import storable

templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def _jst(value: datetime | str | None, fmt: str = "%m/%d %H:%M") -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(JST).strftime(fmt)


templates.env.filters["jst"] = _jst
templates.env.globals["KIND_LABELS"] = {
    "receipt": "受け入れ", "transfer_in": "移動（受け）", "transfer_out": "移動（出し）",
    "adjustment": "数の修正", "handout": "受け渡し",
}  # fmt: skip
templates.env.globals["PARCEL_LABELS"] = {str(k): v for k, v in PARCEL_TYPE_LABELS_JA.items()}


def install_error_pages(app: FastAPI) -> None:
    """403 and 404 on the desk as a page a person can read; the API keeps its JSON."""

    @app.exception_handler(StarletteHTTPException)
    async def _page(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith("/desk"):
            return await errors.http_error(request, exc)
        return templates.TemplateResponse(
            request, "error.html", {"message": exc.detail}, status_code=exc.status_code
        )


#: Pushed stock (``/desk/stock/stream``): a keep-alive comment this often when nothing changed
#: (proxies close silent connections), a look on its own this often (a lost notification costs
#: at most this long), and whether the sign-in was ended this often.
KEEPALIVE_SECONDS = 15.0
LOOK_ANYWAY_SECONDS = 120.0
RECHECK_SECONDS = 3.0


def desk_router(
    sessions: async_sessionmaker[AsyncSession],
    deps: Deps,
    auth: Authenticator,
    *,
    stock_feed: ChangeFeed | None = None,
    revocations: RevocationCache | None = None,
    session_seconds: float = 30 * 60,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Desk = Annotated[Principal, Depends(auth.require(StaffRole.FOOD_DESK))]
    Lead = Annotated[Principal, Depends(auth.require(StaffRole.FOOD_DESK_LEAD))]

    async def render(
        request: Request,
        staff: Principal,
        *,
        event_id: str | None,
        q: str = "",
        case_id: str | None = None,
        handed: str | None = None,
        notice: str | None = None,
        error: str | None = None,
        status_code: int = 200,
        stocked: str | None = None,
        stock_form: dict[str, str] | None = None,
        stock_error: str | None = None,
        link_number: str = "",
        link_error: str | None = None,
    ) -> Response:
        stock = candidates = hits = household = None
        changes: list[dict[str, Any]] = []
        async with sessions() as session, session.begin():
            events = await queries.events(session)
            event_id = _choose_event(events, event_id, staff.venue_id)
            try:
                if event_id:
                    stock = await queries.stock_of(session, deps.config, event_id)
                    changes = await queries.ledger(session, event_id)
                    if q.strip():
                        candidates = await queries.search_candidates(session, event_id, q)
                if case_id:
                    household = await queries.household_status(session, deps.config, case_id)
            except FoodError as exc:
                error = error or exc.message_ja
        # The furigana's keys are asked of intake with no transaction open (ADR 12); what the
        # desk sees is shown only once its audit entries are written.
        if candidates is not None:
            hits = await queries.search_hits(deps.sealer, candidates)
        if household is not None:
            household = await queries.with_kana(deps.sealer, household)
        if hits or household:
            async with sessions() as session, session.begin():
                if hits:
                    seen = [h["case_id"] for h in hits]
                    await queries.audit_view(session, staff.username, "food.search", seen)
                if household:
                    await queries.audit_view(
                        session, staff.username, "food.household_view", [household["case_id"]]
                    )
        for received in household["received"] if household and handed else []:
            if received["handout_id"] == handed:
                label = PARCEL_TYPE_LABELS_JA[ParcelType(received["parcel_type"])]
                notice = f"{label}を受け渡しました（{_jst(received['handed_out_at'], '%H:%M')}）"
        stock_notice = next(
            (_stock_notice(c) for c in changes if stocked and str(c["movement_id"]) == stocked),
            None,
        )
        context = {
            "staff": staff,
            "csrf_field": CSRF_FIELD,
            "events": events,
            "event_id": event_id,
            "stock": stock,
            "runs_stock": staff.may(StaffRole.FOOD_DESK_LEAD),
            "q": q,
            "hits": hits,
            "household": household,
            "notice": notice,
            "handed": handed,
            "error": error,
            "parcel_types": [str(p) for p in ParcelType],
            # One key per button: retrying a tap repeats it, another type is a new request.
            "keys": {str(p): str(uuid.uuid4()) for p in ParcelType},
            "changes": changes,
            "other_events": [e for e in events if e["event_id"] != event_id],
            "stock_notice": stock_notice,
            "stock_error": stock_error,
            "stock_form": stock_form or {},
            "stock_key": (stock_form or {}).get("idempotency_key") or str(uuid.uuid4()),
            "source_kinds": SOURCE_KINDS,
            "link_number": link_number,
            "link_error": link_error,
        }
        return templates.TemplateResponse(request, "desk.html", context, status_code=status_code)

    @router.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse("/desk", status_code=303)

    @router.get("/desk", response_class=HTMLResponse)
    async def desk(
        request: Request,
        staff: Desk,
        event_id: str | None = None,
        q: str = "",
        case_id: str | None = None,
        handed: str | None = None,
        granted: bool = False,
        stocked: str | None = None,
        linked: str | None = None,
    ) -> Response:
        notice = "配布対象にしました" if granted else None
        if linked and _storable(linked):
            notice = f"相談番号 {linked[:64]} の人と同じ世帯にしました（配布は世帯で1回です）"
        return await render(
            request, staff, event_id=_storable(event_id), q=_storable(q[:100]) or "",
            case_id=_storable(case_id), handed=_storable(handed),
            notice=notice, stocked=_storable(stocked),
        )  # fmt: skip

    @router.get("/desk/stock/stream")
    async def stock_stream(request: Request, staff: Desk, event_id: str = "") -> Response:
        """Server-sent events: the event's stock (``event: stock``, the JSON of
        ``GET /api/v1/stock``), and again whenever it changed. Pushed, not polled: the stream
        sleeps until PostgreSQL says this event's stock changed (migration 0008), so an idle
        desk costs a keep-alive comment, not a query. It ends when the session would have (the
        browser reconnects with its cookie, checked again) and at once when the sign-in is
        ended (``gone``: the page reloads and meets the login)."""
        event_id = _storable(event_id) or ""
        async with sessions() as session:
            await queries.event_row(session, event_id)  # unknown event: 404
        loop = asyncio.get_running_loop()
        ends = loop.time() + session_seconds

        async def signed_out() -> bool:
            if revocations is None:
                return False
            try:
                return bool(await revocations.revoked(staff))
            except StarletteHTTPException:  # revocations unknown for too long: trust nothing
                return True

        async def events() -> AsyncIterator[str]:
            version = stock_feed.version if stock_feed is not None else 0
            last: Any = None
            looked = said = checked = loop.time()
            look = True
            yield "retry: 3000\n\n"
            while loop.time() < ends and not await request.is_disconnected():
                if loop.time() - checked >= RECHECK_SECONDS:
                    checked = loop.time()
                    if await signed_out():
                        yield "event: gone\ndata: \n\n"
                        return
                if look:
                    looked = loop.time()
                    async with sessions() as session:
                        now = await queries.stock_of(session, deps.config, event_id)
                    if now["items"] != last:
                        last = now["items"]
                        body = json.dumps(jsonable_encoder(now), ensure_ascii=False)
                        yield f"event: stock\ndata: {body}\n\n"
                        said = loop.time()
                if stock_feed is None or not stock_feed.listening:
                    # No notifications (their connection is down): look each second.
                    await asyncio.sleep(1.0)
                    look = True
                    continue
                version, changed = await stock_feed.wait(version, RECHECK_SECONDS)
                if changed is None:
                    look = True  # anything may have changed
                elif changed:
                    look = event_id in changed
                else:
                    if loop.time() - said >= KEEPALIVE_SECONDS:
                        yield ": still here\n\n"
                        said = loop.time()
                    look = loop.time() - looked >= LOOK_ANYWAY_SECONDS

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.post("/desk/stock/{action}")
    async def desk_stock(action: str, request: Request, staff: Lead) -> Response:
        """Receive parcels, move them to another event, or correct a count: one form each.

        The forms carry a one-time key, so a double tap or a resubmitted page applies once; a
        refusal re-renders the page with what was typed and the reason in Japanese."""
        await check_csrf(request, staff)
        if action not in STOCK_ACTIONS:
            raise StarletteHTTPException(404, "この操作はありません")
        form = await request.form()
        typed = {name: _text(form, name) for name in STOCK_FIELDS}
        typed["action"] = action
        event_id = typed["event_id"]
        try:
            command = _stock_command(action, typed)
            async with sessions() as session, session.begin():
                request_text = repr(sorted(typed.items()))
                if await stock.first_time(
                    session, staff.username, typed["idempotency_key"] or str(uuid.uuid4()),
                    request_text,
                ):  # fmt: skip
                    await command(session, deps, staff.username)
                moved = await queries.latest_change(
                    session, event_id, typed["parcel_type"], staff.username
                )
        except FoodError as exc:
            return await render(
                request, staff, event_id=event_id, stock_form=typed, stock_error=exc.message_ja,
                status_code=exc.status,
            )  # fmt: skip
        return _back({"event_id": event_id}, stocked=str(moved or ""), _anchor="stock-admin")

    @router.post("/desk/handouts")
    async def desk_hand_out(request: Request, staff: Desk) -> Response:
        await check_csrf(request, staff)
        form = await request.form()
        event_id, q, case_id = _text(form, "event_id"), _text(form, "q"), _text(form, "case_id")
        again = {"event_id": event_id, "q": q, "case_id": case_id}
        try:
            parcel_type = ParcelType(_text(form, "parcel_type"))
        except ValueError:
            return await render(
                request, staff, **again, error="配布する種類を選んでください", status_code=422
            )
        try:
            async with sessions() as session, session.begin():
                outcome = await handouts.hand_out(
                    session, deps, case_id=case_id, parcel_type=parcel_type,
                    staff=staff.username, idempotency_key=_text(form, "idempotency_key") or None,
                )  # fmt: skip
        except FoodError as exc:
            return await render(
                request, staff, **again, error=exc.message_ja, status_code=exc.status
            )
        if outcome.refusal is not None:
            return await render(
                request, staff, **again, error=outcome.refusal.message_ja, status_code=409
            )
        assert outcome.handout is not None
        return _back(again, handed=outcome.handout["handout_id"])

    @router.post("/desk/households/link")
    async def desk_link(request: Request, staff: Desk) -> Response:
        """「同じ世帯にする」: the household in the panel joins the other member's household."""
        await check_csrf(request, staff)
        form = await request.form()
        event_id, q, case_id = _text(form, "event_id"), _text(form, "q"), _text(form, "case_id")
        again = {"event_id": event_id, "q": q, "case_id": case_id}
        number = _text(form, "with_case_number")[:64]
        if not number:
            return await render(
                request, staff, **again, link_number=number, status_code=422,
                link_error="同じ世帯の人の相談番号（相談票の番号）を入力してください",
            )  # fmt: skip
        try:
            async with sessions() as session, session.begin():
                await households.link(
                    session, deps.outbox, case_id=case_id, with_case_number=number,
                    staff=staff.username,
                )  # fmt: skip
        except FoodError as exc:
            return await render(
                request, staff, **again, link_number=number, link_error=exc.message_ja,
                status_code=exc.status,
            )  # fmt: skip
        return _back(again, linked=case_number_key(number))

    @router.post("/desk/eligibility")
    async def desk_grant(request: Request, staff: Desk) -> Response:
        await check_csrf(request, staff)
        form = await request.form()
        event_id, q, case_id = _text(form, "event_id"), _text(form, "q"), _text(form, "case_id")
        again = {"event_id": event_id, "q": q, "case_id": case_id}
        try:
            async with sessions() as session, session.begin():
                await cases.grant_manually(
                    session, deps.outbox, case_id=case_id, staff=staff.username,
                    reason=_text(form, "reason")[:500],
                )  # fmt: skip
        except FoodError as exc:
            return await render(
                request, staff, **again, error=exc.message_ja, status_code=exc.status
            )
        return _back(again, granted="1")

    return router


def _choose_event(
    events: list[dict[str, Any]], wanted: str | None, venue_id: str | None
) -> str | None:
    """The event asked for, else the latest at the staff member's venue, else the latest."""
    if wanted:
        return wanted
    for event in events:
        if venue_id and event["venue_id"] == venue_id:
            return str(event["event_id"])
    return str(events[0]["event_id"]) if events else None


def _storable(value: str | None) -> str | None:
    """``None`` for a value PostgreSQL text cannot hold: it names no event or case."""
    return None if value is None or not storable(value) else value


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return (_storable(value) or "").strip() if isinstance(value, str) else ""


def _back(params: dict[str, str], _anchor: str = "", **extra: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in {**params, **extra}.items() if v})
    return RedirectResponse(f"/desk?{query}" + (f"#{_anchor}" if _anchor else ""), status_code=303)


#: Where received parcels come from: the desk picks one and names it.
SOURCE_KINDS = ("フードバンク", "寄付（個人・団体）", "その他")
STOCK_ACTIONS = ("receipts", "transfers", "adjustments")
STOCK_FIELDS = (
    "event_id", "idempotency_key", "parcel_type", "quantity", "source_kind", "source_name",
    "to_event_id", "counted", "reason",
)  # fmt: skip
MAX_COUNT = 100_000


def _stock_command(action: str, typed: dict[str, str]) -> Any:
    """Check the typed form (each problem in Japanese) and return the command to run."""
    event_id = typed["event_id"]
    if not event_id:
        raise Invalid("event_id", "開催を選んでください", "choose an event")
    try:
        parcel_type = ParcelType(typed["parcel_type"])
    except ValueError:
        raise Invalid("parcel_type", "種類を選んでください", "choose a parcel type") from None

    if action == "receipts":
        quantity = _count(typed["quantity"], "数量", positive=True)
        if typed["source_kind"] not in SOURCE_KINDS:
            raise Invalid("source_kind", "受け入れ元の種別を選んでください", "choose a source")
        name = typed["source_name"]
        if not name:
            raise Invalid(
                "source_name",
                "受け入れ元（フードバンク名・寄付者名）を入力してください",
                "name the source",
            )
        source = f"{typed['source_kind']}：{name}"[:200]

        async def receive(session: AsyncSession, deps: Deps, staff: str) -> None:
            venue_id = await stock.event_venue(session, event_id)
            await stock.receive(
                session, deps, event_id=event_id, venue_id=venue_id, parcel_type=parcel_type,
                quantity=quantity, source=source, staff=staff,
            )  # fmt: skip

        return receive
    if action == "transfers":
        quantity = _count(typed["quantity"], "数量", positive=True)
        to_event_id = typed["to_event_id"]
        if not to_event_id:
            raise Invalid("to_event_id", "移動先の開催を選んでください", "choose the destination")

        async def transfer(session: AsyncSession, deps: Deps, staff: str) -> None:
            await stock.transfer(
                session, deps, from_event_id=event_id, to_event_id=to_event_id,
                to_venue_id=None, parcel_type=parcel_type, quantity=quantity, staff=staff,
            )  # fmt: skip

        return transfer
    counted = _count(typed["counted"], "数えた数", positive=False)
    reason = typed["reason"]
    if not reason:
        raise Invalid("reason", "修正の理由を入力してください（記録に残ります）", "give a reason")
    if len(reason) > 500:
        raise Invalid("reason", "理由は 500 文字以内にしてください", "reason too long")

    async def correct(session: AsyncSession, deps: Deps, staff: str) -> None:
        await stock.correct_count(
            session, deps, event_id=event_id, parcel_type=parcel_type, counted=counted,
            reason=reason, staff=staff,
        )  # fmt: skip

    return correct


def _count(text: str, label: str, *, positive: bool) -> int:
    text = unicodedata.normalize("NFKC", text).replace(",", "").strip()
    if not text:
        raise Invalid("quantity", f"{label}を入力してください", f"{label} is required")
    if not text.isdecimal():
        kind = " 1 以上" if positive else " 0 以上"
        raise Invalid(
            "quantity", f"{label}は{kind}の整数で入力してください", "a whole number is required"
        )
    value = int(text)
    if positive and value == 0:
        raise Invalid("quantity", f"{label}は 1 以上にしてください", "must be at least 1")
    if value > MAX_COUNT:
        raise Invalid("quantity", f"{label}は {MAX_COUNT:,} 以下にしてください", "too many at once")
    return value


def _stock_notice(change: dict[str, Any]) -> str:
    label = PARCEL_TYPE_LABELS_JA[ParcelType(change["parcel_type"])]
    after = f"在庫 {change['balance_after']} 個"
    if change["kind"] == "receipt":
        return f"{label}を {change['quantity']} 個受け入れました（{change['source']}）。{after}"
    if change["kind"] == "transfer_out":
        return f"{label}を {change['quantity']} 個、{change['counterpart']} へ移しました。{after}"
    if change["kind"] == "transfer_in":
        return f"{label}を {change['quantity']} 個、{change['counterpart']} から受けました。{after}"
    return f"{label}の数を {change['delta']:+d} 個修正しました（{change['reason']}）。{after}"
