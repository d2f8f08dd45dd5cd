"""What a handler can refuse with; the entrypoints turn these into HTTP statuses and messages."""

from __future__ import annotations

import math
from datetime import UTC, datetime


class NotFound(Exception):
    """No such thing, or not one the caller may know exists (404, never a hint)."""


class Forbidden(Exception):
    """The caller may see this but not do that (403)."""


class Conflict(Exception):
    """The request contradicts the current state (409); the message is Japanese. ``field``,
    when one field is what clashes (a username taken), is its dotted path, as in the form."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Invalid(Exception):
    """A field whose value cannot be used (422); ``field`` is the dotted path, as in the form,
    ``code`` what is wrong with it for a program to tell apart."""

    def __init__(
        self, field: str, message: str, code: str = "value_error", message_en: str | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.message_en = message_en or f"{field}: value not accepted"


class LoginLocked(Exception):
    """Too many failed logins for this username (429): it may try again at ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


def retry_after(locked: LoginLocked) -> int:
    """Seconds until a locked username may try again (for a Retry-After header)."""
    return max(1, math.ceil((locked.until - datetime.now(UTC)).total_seconds()))
