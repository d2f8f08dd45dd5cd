"""One error shape for every service's API (docs/conventions.md, "Errors"):
``{"code", "message", "message_en"}``, plus ``fields`` for a request that did not validate and
whatever specifics a client may act on (``remaining``, ``handed_out_by`` …).

``code`` is for programs (stable, snake_case), ``message`` for people (Japanese, shown as it is),
``message_en`` for logs and API clients. Routes raise :class:`ApiError`, or FastAPI's
``HTTPException`` with a plain message (``"日本語 (english)"`` is split into the two), and
:func:`install` turns both, validation errors and the framework's own 404/405 into this shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

#: Each status's code and words when a route says no more than the status.
GENERIC: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "リクエストを読み取れません", "The request cannot be read"),
    401: ("unauthenticated", "ログインが必要です", "Authentication required"),
    403: ("forbidden", "この操作の権限がありません", "Forbidden"),
    404: ("not_found", "見つかりません", "Not found"),
    405: ("method_not_allowed", "この操作はできません", "Method not allowed"),
    409: ("conflict", "現在の状態ではこの操作はできません", "Conflicts with the current state"),
    410: ("gone", "もうありません", "Gone"),
    413: ("too_large", "リクエストが大きすぎます", "Request body too large"),
    415: ("unsupported_media_type", "この形式は受け付けられません", "Unsupported media type"),
    422: ("invalid_input", "入力内容を確認してください", "The request did not validate"),
    429: ("too_many_requests", "しばらく待ってからお試しください", "Too many requests"),
    500: ("internal_error", "内部エラーが発生しました", "Internal error"),
    503: (
        "unavailable",
        "一時的に利用できません。しばらくしてからもう一度お試しください",
        "Service temporarily unavailable",
    ),
}
_RESERVED = ("code", "message", "message_en")
#: Seconds a client is asked to wait after a 503.
RETRY_AFTER_SECONDS = 5
#: "日本語の説明 (english words)": the form many routes' messages already take.
_BILINGUAL = re.compile(r"^(?P<ja>.*?)\s*\((?P<en>[\x20-\x7e]+)\)\s*$", re.DOTALL)


class ApiError(Exception):
    """A refusal in the one shape; ``extra`` (e.g. ``fields``) is added beside the three keys."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        message_en: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.message_en = message_en or generic(status)[2]
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.message_en, **self.extra)


def generic(status: int) -> tuple[str, str, str]:
    """The code, Japanese and English words for a bare status."""
    if status in GENERIC:
        return GENERIC[status]
    return ("error", "エラーが発生しました", "Error") if status >= 400 else ("ok", "", "")


def error_body(code: str, message: str, message_en: str, **extra: Any) -> dict[str, Any]:
    """The shape itself; ``extra`` cannot overwrite the three keys."""
    rest = {k: v for k, v in extra.items() if k not in _RESERVED}
    return {"code": code, "message": message, "message_en": message_en, **rest}


def error_response(
    status: int,
    code: str | None = None,
    message: str | None = None,
    message_en: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A JSON response in the shape; missing parts come from the status."""
    default_code, default_ja, default_en = generic(status)
    body = error_body(
        code or default_code, message or default_ja, message_en or default_en, **extra
    )
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=dict(headers or {}))


def from_detail(status: int, detail: Any) -> dict[str, Any]:
    """An ``HTTPException``'s ``detail`` (a message, a list of field errors, or a body already
    in the shape) as the body in the shape."""
    code, ja, en = generic(status)
    if isinstance(detail, Mapping) and "code" in detail:
        return error_body(
            str(detail["code"]),
            str(detail.get("message") or ja),
            str(detail.get("message_en") or en),
            **{k: v for k, v in detail.items() if k not in _RESERVED},
        )
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        return error_body(code, ja, en, fields=field_errors(detail))
    if isinstance(detail, str) and detail and detail != _starlette_phrase(status):
        found = _BILINGUAL.match(detail)
        if found and found["ja"] and not found["ja"].isascii():
            return error_body(code, found["ja"], found["en"])
        if detail.isascii():
            return error_body(code, ja, detail)
        return error_body(code, detail, en)
    return error_body(code, ja, en)


def _starlette_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Each field's error: where (``loc``), what (``type``) and the words (``msg``; Japanese
    ``message`` where the service has its own). Never the value sent (``input``): that is often
    a resident's name, phone or address, and answers travel through proxies and histories."""
    out = []
    for error in errors:
        if not isinstance(error, Mapping):
            out.append({"loc": [], "type": "value_error", "msg": str(error)})
            continue
        item = {k: v for k, v in error.items() if k not in ("input", "ctx", "url")}
        if "ctx" in error:
            item["ctx"] = _safe_ctx(error["ctx"])
        out.append(item)
    return jsonable_encoder(out)  # type: ignore[no-any-return]


def _safe_ctx(ctx: Any) -> dict[str, Any]:
    """A validation error's context keeps its limits (``max_length``, ``ge`` …) only: a nested
    exception's text may quote the value."""
    if not isinstance(ctx, dict):
        return {}
    return {k: v for k, v in ctx.items() if isinstance(v, int | float | bool) or k == "pattern"}


def invalid(errors: Sequence[Any]) -> JSONResponse:
    """422 naming each field. One error the service itself described (Japanese ``message``
    and its own ``type``) lends the answer its code and words."""
    fields = field_errors(errors)
    code, ja, en = GENERIC[422]
    if len(fields) == 1 and fields[0].get("message"):
        only = fields[0]
        if only.get("type") not in (None, "value_error"):
            code = str(only["type"])
        ja = str(only["message"])
        en = str(only.get("msg") or en)
    return JSONResponse(error_body(code, ja, en, fields=fields), status_code=422)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """An ``HTTPException`` (the routes' or the framework's own) in the one shape."""
    headers = dict(exc.headers or {})
    if exc.status_code == 503 and not {k.lower() for k in headers} & {"retry-after"}:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)  # every 503 says when to try again
    if exc.status_code in (204, 304) or exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=headers)
    body = from_detail(exc.status_code, exc.detail)
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


#: What the OpenAPI document says of a 422 (FastAPI's own schema name, so every route's
#: documented 422 now describes the body actually sent).
VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["code", "message", "message_en"],
    "properties": {
        "code": {"type": "string", "title": "Code"},
        "message": {"type": "string", "title": "Message (Japanese)"},
        "message_en": {"type": "string", "title": "Message (English)"},
        "fields": {
            "type": "array",
            "title": "Fields",
            "items": {"$ref": "#/components/schemas/ValidationError"},
        },
    },
}


def _document(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    """Every refusal of ``app`` in the one shape (called by ``create_app``)."""
    _document(app)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return JSONResponse(jsonable_encoder(exc.body()), exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return invalid(exc.errors())

    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
