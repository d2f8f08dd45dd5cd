"""Rendering the staff pages: context, languages, fragments, live updates, small helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from starlette.datastructures import FormData

from tsunagu.intake.domain import access
from tsunagu.intake.domain.normalize import format_era
from tsunagu.intake.entrypoints import i18n
from tsunagu.intake.entrypoints.web import (
    Intake,
    intake,
    lang_of,
    unstorable,
    who,
)
from tsunagu.intake.service_layer import cases
from tsunagu.shared import phones
from tsunagu.shared.auth import CSRF_FIELD, Principal
from tsunagu.shared.contracts.codes import (
    DECLINE_REASON_LABELS_JA,
    REFERRAL_OUTCOME_LABELS_JA,
    Concern,
    ContactChannel,
    ContactTime,
    DeclineReason,
    Language,
    Programme,
    ReferralOutcome,
    ReferralRole,
    Sex,
    SharingBasis,
    StaffRole,
)


def render(
    request: Request,
    template: str,
    principal: Principal | None = None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    app = intake(request)
    return app.templates.TemplateResponse(
        request, template, page_context(request, principal) | context, status_code=status_code
    )


def page_context(request: Request, principal: Principal | None) -> dict[str, Any]:
    app = intake(request)
    lang = lang_of(request)
    tz = app.tz

    def when(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    def day(value: date | None) -> str:
        if value is None:
            return ""
        return f"{value:%Y-%m-%d}" + ("" if lang == "en" else f"（{format_era(value)}）")

    def action_label(code: str) -> str:
        words = i18n.WORDS.get("audit." + code)
        return code if words is None else words[1 if lang == "en" else 0]

    domain = who(principal) if principal is not None else None
    return {
        "phone": format_phone,
        "action_label": action_label,
        "lang": lang,
        "t": i18n.translator(lang),
        "concern": i18n.concern_label(lang),
        "programme": i18n.programme_name(lang),
        "agency": i18n.agency_label(lang),
        "reason": i18n.reason_label(lang),
        "when": when,
        "day": day,
        "principal": principal,
        "csrf_field": CSRF_FIELD,
        "csrf": principal.csrf if principal is not None else "",
        "nav": _nav(domain),
        "path": request.url.path,
        "query_lang": lambda code: _with_lang(request, code),
        "Concern": Concern,
        "Programme": Programme,
        "StaffRole": StaffRole,
        "Sex": Sex,
        "Language": Language,
        "SharingBasis": SharingBasis,
        "ContactChannel": ContactChannel,
        "ContactTime": ContactTime,
        "ReferralRole": ReferralRole,
        "board_statuses": cases.BOARD_STATUSES,
        "decline_reasons": [(c.value, DECLINE_REASON_LABELS_JA[c]) for c in DeclineReason],
        "referral_outcomes": [(c.value, REFERRAL_OUTCOME_LABELS_JA[c]) for c in ReferralOutcome],
        "decline_reason_label": lambda code: _label(DECLINE_REASON_LABELS_JA, DeclineReason, code),
        "outcome_label": lambda code: _label(REFERRAL_OUTCOME_LABELS_JA, ReferralOutcome, code),
    }


def _label(labels: Any, codes: Any, code: str | None) -> str:
    try:
        return str(labels[codes(code)]) if code else ""
    except ValueError:
        return str(code)


def format_phone(digits: str | None) -> str:
    """A number as people write it, by its real area code: 03-1234-5678, 048-222-1111,
    090-1234-5678 (libphonenumber's Japanese formats)."""
    return phones.display(digits)


def _with_lang(request: Request, code: str) -> str:
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return request.url.path + "?" + urlencode([*query, ("lang", code)])


def _nav(domain: access.Principal | None) -> list[tuple[str, str]]:
    if domain is None:
        return []
    items: list[tuple[str, str]] = []
    roles = domain.roles
    if roles & {StaffRole.INTAKE, StaffRole.COORDINATOR, StaffRole.ADMIN}:
        items.append(("/board", "nav.board"))
    if access.can_take_in(domain):
        items.append(("/cases/new", "nav.new"))
    if roles - {StaffRole.PROGRAMME, StaffRole.MANAGER} or domain.programmes:
        items.append(("/cases", "nav.cases"))
    if StaffRole.PROGRAMME in roles and domain.programmes:
        items.append(("/inbox", "nav.inbox"))
    if access.can_read_reports(domain):
        items.append(("/reports", "nav.reports"))
    if access.can_admin(domain):
        items.append(("/admin", "nav.admin"))
    if access.can_audit(domain):
        items.append(("/audit", "nav.audit"))
    return items


def fragment(app: Intake, request: Request, template: str, principal: Principal, **ctx: Any) -> str:
    context = page_context(request, principal) | ctx
    return app.templates.env.get_template(template).render(**context)


#: With nothing changed, a stream still looks this often (a notification can be lost).
LOOK_ANYWAY_SECONDS = 120.0
#: A comment this often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0
#: An open stream asks this often whether its sign-in was ended (logout, deactivation, new
#: roles or password): a revoked session stops receiving within seconds, not at reconnect.
RECHECK_SECONDS = 3.0


def live(
    request: Request,
    render_fragment: Callable[[], Awaitable[str | None]],
    *,
    case_id: str | None = None,
) -> StreamingResponse:
    """Server-sent events: the fragment, and again whenever it changed.

    Pushed, not polled: the stream sleeps until the database says a case changed
    (``adapters.change_feed``), renders again (``case_id``: only for a change to that case)
    and sends the fragment only if it differs from what it sent last. Idle, it costs nothing
    but a keep-alive comment. The stream ends when the session would have: the browser
    reconnects with its cookie, which is then checked again (and a stream is not activity, so
    an idle session still ends). It also ends at once when ``render_fragment`` returns None:
    the reader lost access (a consent withdrawal), and the reconnect is refused; and within
    ``RECHECK_SECONDS`` (plus the revocation cache's refresh) of the reader's sign-in being
    revoked: ``gone``, so the page reloads and meets the login.
    """
    app = intake(request)
    principal: Principal | None = getattr(request.state, "principal", None)
    revocations = getattr(app.runtime, "revocations", None)

    async def signed_out() -> bool:
        if principal is None or revocations is None:
            return False
        try:
            return bool(await revocations.revoked(principal))
        except HTTPException:  # revocations unknown for too long: trust nothing
            return True

    feed = getattr(app.runtime, "changes", None)
    loop = asyncio.get_running_loop()
    ends = loop.time() + app.settings.session_idle_seconds

    async def events() -> AsyncIterator[str]:
        last: str | None = None
        version = feed.version if feed is not None else 0
        looked = said = loop.time()
        yield "retry: 3000\n\n"
        render = True
        while loop.time() < ends and not await request.is_disconnected():
            if await signed_out():
                yield "event: gone\ndata: \n\n"
                return
            if render:
                looked = loop.time()
                html = await render_fragment()
                if html is None:
                    yield "event: gone\ndata: \n\n"
                    return
                if html != last:
                    last = html
                    yield "event: update\n" + "".join(
                        f"data: {line}\n" for line in html.splitlines()
                    )
                    yield "\n"
                    said = loop.time()
            if feed is None or not feed.listening:
                # No notifications (the database connection for them is down): look each second.
                await asyncio.sleep(1.0)
                render = True
                continue
            version, changed = await feed.wait(version, RECHECK_SECONDS)
            if changed is None:
                render = True  # anything may have changed
            elif changed:
                render = case_id is None or case_id in changed
            else:
                if loop.time() - said >= KEEPALIVE_SECONDS:
                    yield ": still here\n\n"
                    said = loop.time()
                render = loop.time() - looked >= LOOK_ANYWAY_SECONDS

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def forbid_unless(allowed: bool) -> None:
    if not allowed:
        raise HTTPException(403, "この操作の権限がありません")


def not_found() -> HTTPException:
    return HTTPException(404, "見つかりません")


def id_or_none(value: str | None) -> str | None:
    if value and len(value) <= 64 and all(ch.isalnum() or ch in "-_" for ch in value):
        return value
    return None


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_values(
    form: FormData, lists: tuple[str, ...] = ("concerns", "consent.contact_channels")
) -> dict[str, Any]:
    """The submitted form as typed, to fill it in again; checkbox groups (``lists``, by
    default the intake sheet's) are lists."""
    values: dict[str, Any] = {}
    for key in form:
        items = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = items if key in lists else items[-1]
    return values


def safe_next(value: str | None) -> str:
    """Only a path on this site: never send someone elsewhere after they log in."""
    if not value:
        return "/"
    parts = urlsplit(value)
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path or unstorable(path):
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")
