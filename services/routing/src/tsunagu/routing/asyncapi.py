"""The AsyncAPI 3.0 document of routing's topics: what it publishes and what it reads.

Built by ``tsunagu.shared.asyncapi`` from the topic registry, the event models and the handlers
routing registers, so it cannot drift from the code. The programme teams subscribe to
``routing.programme.<programme>.v1``. A copy is committed at services/routing/asyncapi.yaml (a
test checks it); regenerate every service's with ``make asyncapi`` (``make lint`` checks them).
"""

from __future__ import annotations

import sys
from typing import Any

from tsunagu.routing.entrypoints.consumers import handlers
from tsunagu.shared import asyncapi
from tsunagu.shared.contracts.topics import ROUTING

#: The event types routing applies from the topics it reads (others there are skipped).
HANDLED: tuple[str, ...] = tuple(handlers(None))  # type: ignore[arg-type]  # names only

DESCRIPTION = """\
Routing refers each case to every programme it needs and follows each referral. Programme
teams subscribe to `routing.programme.<programme>.v1` with a consumer group that starts with
their Kafka user (e.g. `team-life-independence`)."""


def document() -> dict[str, Any]:
    return asyncapi.document(ROUTING, HANDLED, DESCRIPTION)


def to_yaml() -> str:
    return asyncapi.to_yaml(document())


if __name__ == "__main__":
    sys.stdout.write(to_yaml())
