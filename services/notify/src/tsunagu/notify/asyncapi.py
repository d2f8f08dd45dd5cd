"""The AsyncAPI 3.0 document of notify's topics: the events that cause messages, and every
delivery attempt it publishes.

Built by ``tsunagu.shared.asyncapi``; a copy is committed at services/notify/asyncapi.yaml (a
test checks it); regenerate every service's with ``make asyncapi`` (``make lint`` checks them).
"""

from __future__ import annotations

import sys
from typing import Any

from tsunagu.notify.entrypoints.consumers import case_handlers, programme_handlers
from tsunagu.shared import asyncapi
from tsunagu.shared.contracts.topics import NOTIFY

#: The event types notify plans messages for (others on its topics are skipped).
HANDLED: tuple[str, ...] = (
    *case_handlers(None),  # type: ignore[arg-type]  # names only
    *programme_handlers(None),  # type: ignore[arg-type]
)

DESCRIPTION = """\
Notify turns events into messages to staff and residents (email, SMS, letters, call lists),
exactly once and never at night, and publishes every delivery attempt, never its content."""


def document() -> dict[str, Any]:
    return asyncapi.document(NOTIFY, HANDLED, DESCRIPTION)


if __name__ == "__main__":
    sys.stdout.write(asyncapi.to_yaml(document()))
