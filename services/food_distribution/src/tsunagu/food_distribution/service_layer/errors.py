"""Why a command was refused, in Japanese for the desk and in English for API clients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from tsunagu.food_distribution.domain.handout import Refusal


class FoodError(Exception):
    """A refusal the desk shows as it is; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(
        self, code: str, message_ja: str, message_en: str, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_ja = message_ja
        self.message_en = message_en
        self.details = dict(details or {})

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message_ja,
            "message_en": self.message_en,
            **self.details,
        }

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        rest = {k: v for k, v in body.items() if k not in ("code", "message", "message_en")}
        return cls(body["code"], body["message"], body["message_en"], rest)


class NotFound(FoodError):
    status = 404


class Conflict(FoodError):
    """The request is valid but the state forbids it: not eligible, served, out of stock."""

    status = 409

    @classmethod
    def from_refusal(cls, refusal: Refusal) -> Self:
        return cls(str(refusal.code), refusal.message_ja, refusal.message_en, refusal.details)


class Invalid(FoodError):
    """Input the schema accepted but the rules do not; ``field`` names the culprit."""

    status = 422

    def __init__(
        self, field: str, message_ja: str, message_en: str, *, location: str = "body"
    ) -> None:
        super().__init__("invalid", message_ja, message_en, {"field": field})
        self.field = field
        self.location = location


def case_not_found(case_id: str) -> NotFound:
    return NotFound(
        "case_not_found",
        "この相談番号の記録が食料品配布にまだ届いていません",
        f"Case {case_id} is not known to food distribution (case_created not received yet)",
        {"case_id": case_id},
    )


def event_not_found(event_id: str) -> NotFound:
    return NotFound(
        "event_not_found",
        "この開催の記録がありません",
        f"Event {event_id} is not known to food distribution",
        {"event_id": event_id},
    )


def not_today(event_id: str) -> Conflict:
    return Conflict(
        "event_not_today",
        "本日の開催回ではないため検索できません",
        f"Event {event_id} is not held today: the desk searches today's event only",
        {"event_id": event_id},
    )
