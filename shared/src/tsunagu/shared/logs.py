"""structlog JSON logging, bound with correlation and case ids, never personal data.

An exception's message can carry what a resident typed (a database error's DETAIL names the
values of a key; a driver error quotes the statement's parameters): logs and dead-letter
headers keep only its class, its SQLSTATE and where it was raised (``describe_error``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

#: Keys that must never reach a log line, whatever a caller binds.
_PERSONAL_KEYS = frozenset(
    {"name", "name_kana", "phone", "email", "address", "birth_date", "notes", "contact", "to"}
)


def _drop_personal_data(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in _PERSONAL_KEYS & event_dict.keys():
        event_dict[key] = "[redacted]"
    return event_dict


def describe_error(exc: BaseException) -> str:
    """``ClassName`` (with ``sqlstate=XXXXX`` for database errors): never the message."""
    names = [type(exc).__name__]
    cause: BaseException | None = exc
    sqlstate: str | None = None
    seen = 0
    while cause is not None and seen < 5:
        sqlstate = sqlstate or _sqlstate(cause)
        cause = cause.__cause__ or getattr(cause, "orig", None)
        if cause is not None and type(cause).__name__ not in names:
            names.append(type(cause).__name__)
        seen += 1
    text = " < ".join(names[:3])
    return f"{text} sqlstate={sqlstate}" if sqlstate else text


def _sqlstate(exc: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            return value
    return None


def _where(exc: BaseException) -> str:
    """The innermost frame of our own code that the exception passed through."""
    tb = exc.__traceback__
    found = ""
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith("tsunagu."):
            found = f"{module}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _safe_exc_info(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace an exception (``log.exception``) by its class, SQLSTATE and place."""
    info = event_dict.pop("exc_info", None)
    if info:
        exc = info if isinstance(info, BaseException) else sys.exc_info()[1]
        if isinstance(info, tuple):
            exc = info[1]
        if exc is not None:
            event_dict["error"] = describe_error(exc)
            event_dict["where"] = _where(exc)
    return event_dict


class SafeFormatter(logging.Formatter):
    """For the standard library's loggers (uvicorn, SQLAlchemy, aiokafka): no tracebacks with
    messages in them, only the exception's class and SQLSTATE."""

    def formatException(self, ei: Any) -> str:
        exc = ei[1] if isinstance(ei, tuple) else None
        if exc is None:
            return ""
        return f"error={describe_error(exc)} where={_where(exc)}"

    def formatStack(self, stack_info: str) -> str:
        return ""


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stdout`` as it is when the record comes, not as it was when logging was
    set up: a test runner swaps stdout for each test and closes the old one."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout  # under the handler's lock (Handler.handle holds it)
        super().emit(record)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = _StdoutHandler()
    handler.setFormatter(SafeFormatter("%(message)s"))
    logging.basicConfig(handlers=[handler], level=level.upper(), force=True)
    # aiosmtpd ("mail.log": the dev mail catcher, and tests' SMTP servers) logs every
    # connection's open and close at INFO.
    for noisy in ("aiokafka", "kafka", "uvicorn.access", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_personal_data,
            _safe_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


def bind_ids(*, correlation_id: str | None = None, case_id: str | None = None) -> None:
    """Bind the ids of the message or request being handled to every log line after this."""
    ids = {"correlation_id": correlation_id, "case_id": case_id}
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v})


def clear_ids() -> None:
    structlog.contextvars.unbind_contextvars("correlation_id", "case_id")
