"""structlog JSON logging, bound with correlation and case ids, never personal data."""

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


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    for noisy in ("aiokafka", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_personal_data,
            structlog.processors.format_exc_info,
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
