"""Demo stock for development: parcels of every type at the events a demo day needs.

``python -m tsunagu.food_distribution.demo EVENT_ID=VENUE_ID[=VENUE_NAME] ...`` migrates the
food schema and receives ``DEMO_STOCK`` at each event named (``make up`` names today's demo
events), so a new user can try a handout at the food desk straight away. Each receipt is an
ordinary ledger line with the source ``DEMO_SOURCE``; an (event, parcel type) that already had
its demo receipt is left alone, so running it twice changes nothing. It refuses to run when
``TSUNAGU_ENV=prod``.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from sqlalchemy import select

from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.food_distribution.bootstrap import build_deps
from tsunagu.food_distribution.config import FoodConfig
from tsunagu.food_distribution.service_layer.stock import ensure_event, receive
from tsunagu.shared.clock import japan_today
from tsunagu.shared.contracts.codes import ParcelType
from tsunagu.shared.migrations import upgrade
from tsunagu.shared.runtime import ServiceRuntime
from tsunagu.shared.settings import Settings

#: Parcels received per type at each demo event (above the default low-stock threshold of 5).
DEMO_STOCK: dict[ParcelType, int] = {
    ParcelType.STANDARD: 40,
    ParcelType.NO_PORK: 12,
    ParcelType.ALLERGY_FRIENDLY: 12,
    ParcelType.INFANT: 8,
}
DEMO_SOURCE = "デモ用の在庫"
DEMO_STAFF = "demo"


@dataclass(frozen=True)
class DemoEvent:
    event_id: str
    venue_id: str
    venue_name: str | None = None

    @classmethod
    def parse(cls, text: str) -> DemoEvent:
        """``EVENT_ID=VENUE_ID`` or ``EVENT_ID=VENUE_ID=VENUE_NAME``."""
        parts = text.split("=", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(f"expected EVENT_ID=VENUE_ID[=VENUE_NAME], got {text!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 and parts[2] else None)


async def seed(
    settings: Settings, events: list[DemoEvent], config: FoodConfig | None = None
) -> dict[str, int]:
    """Receive the demo stock at each event once; returns how many receipts were written."""
    if settings.env == "prod":
        raise RuntimeError("demo data is for development and tests only (TSUNAGU_ENV=prod)")
    runtime = ServiceRuntime(settings, tables)
    deps = build_deps(runtime, config)
    m = tables.stock_movement
    written = 0
    try:
        for event in events:
            async with runtime.sessions() as session, session.begin():
                if event.venue_name is not None:
                    # The desk shows the venue's name (intake's cases carry it later, too).
                    await ensure_event(
                        session, event.event_id, event.venue_id, japan_today(), event.venue_name
                    )
                done = set(
                    (
                        await session.execute(
                            select(m.c.parcel_type).where(
                                m.c.event_id == event.event_id,
                                m.c.kind == "receipt",
                                m.c.source == DEMO_SOURCE,
                            )
                        )
                    ).scalars()
                )
                for parcel_type, quantity in DEMO_STOCK.items():
                    if parcel_type in done:
                        continue
                    await receive(
                        session,
                        deps,
                        event_id=event.event_id,
                        venue_id=event.venue_id,
                        parcel_type=parcel_type,
                        quantity=quantity,
                        source=DEMO_SOURCE,
                        staff=DEMO_STAFF,
                    )
                    written += 1
    finally:
        await runtime.engine.dispose()
    return {"stock_receipts": written}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        events = [DemoEvent.parse(a) for a in args]
    except ValueError as bad:
        sys.exit(str(bad))
    settings = Settings(service="food_distribution")
    if settings.env == "prod":
        sys.exit("refusing to create demo data: TSUNAGU_ENV=prod")
    upgrade("food_distribution", settings.database_url)
    counts = asyncio.run(seed(settings, events))
    print(", ".join(f"{name}: {n}" for name, n in counts.items()))


if __name__ == "__main__":
    main()
