"""The AsyncAPI 3.0 document of intake's topics: the cases it publishes, what it reads back.

Built by ``tsunagu.shared.asyncapi``; a copy is committed at services/intake/asyncapi.yaml (a
test checks it); regenerate every service's with ``make asyncapi`` (``make lint`` checks them).
"""

from __future__ import annotations

import sys
from typing import Any

from tsunagu.intake.service_layer import report_facts
from tsunagu.intake.service_layer.read_model import FOOD_HANDLERS, ROUTING_HANDLERS
from tsunagu.shared import asyncapi
from tsunagu.shared.contracts.topics import INTAKE

#: The event types intake applies from the topics it reads (its read model and report facts).
HANDLED: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *ROUTING_HANDLERS,
            *FOOD_HANDLERS,
            *report_facts.CASE_HANDLERS,
            *report_facts.ROUTING_HANDLERS,
            *report_facts.FOOD_HANDLERS,
        ]
    )
)

DESCRIPTION = """\
Intake takes residents in at a consultation event and publishes their cases (pseudonymous ids,
codes, flags and an age; names and contact details only sealed), consent changes and staff's
responses to referrals."""


def document() -> dict[str, Any]:
    return asyncapi.document(INTAKE, HANDLED, DESCRIPTION)


if __name__ == "__main__":
    sys.stdout.write(asyncapi.to_yaml(document()))
