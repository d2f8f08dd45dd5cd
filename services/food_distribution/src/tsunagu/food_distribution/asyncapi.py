"""The AsyncAPI 3.0 document of food distribution's topics: eligibility, handouts, low stock.

Built by ``tsunagu.shared.asyncapi``; a copy is committed at
services/food_distribution/asyncapi.yaml (a test checks it); regenerate every service's with ``make asyncapi`` (``make lint`` checks them).
"""

from __future__ import annotations

import sys
from typing import Any

from tsunagu.food_distribution.entrypoints.consumers import HANDLED
from tsunagu.shared import asyncapi
from tsunagu.shared.contracts.topics import FOOD_DISTRIBUTION

DESCRIPTION = """\
Food distribution learns each case from routing's topic for the desk (`routing.food.v1`): the
household, event and sealed furigana with routing's rule 9 decision, and nothing of the case's
concerns (ADR 24). It hands out parcels at the desk and keeps the stock per event."""


def document() -> dict[str, Any]:
    return asyncapi.document(FOOD_DISTRIBUTION, HANDLED, DESCRIPTION)


if __name__ == "__main__":
    sys.stdout.write(asyncapi.to_yaml(document()))
