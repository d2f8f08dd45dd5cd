"""How many events a case puts on the bus and takes off it (system tier, saturation run).

Counted in the services' own tables: an outbox row is an event produced (its ``seq``, which
the outbox pruner does not reset), an inbox row an event a consumer group applied, a notify
delivery a message to send. With the shared runtime's cost per event (the framework tier),
these counts bound what a case can cost: see "What ×0.25 would take" in the README.
"""

from __future__ import annotations

import asyncio
from typing import Any

SERVICES = ("intake", "routing", "notify", "food_distribution")

Counts = dict[str, dict[str, int]]


async def count(database_url: str) -> Counts:
    """Events produced and applied so far, per service, and notify's deliveries."""
    import asyncpg

    from tsunagu.shared.db import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        out: Counts = {}
        for schema in SERVICES:
            out[schema] = {
                "produced": await conn.fetchval(
                    f'SELECT coalesce(max(seq), 0) FROM "{schema}".outbox'
                ),
                "consumed": await conn.fetchval(f'SELECT count(*) FROM "{schema}".inbox'),
            }
        out["notify"]["deliveries"] = await conn.fetchval("SELECT count(*) FROM notify.delivery")
        return out
    finally:
        await conn.close()


async def settled(database_url: str, *, every: float = 0.5, most: float = 20.0) -> Counts:
    """The counts once they stop moving (the consumers off a case's way finish after its last
    staff message), or as they are after ``most`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + most
    last = await count(database_url)
    while loop.time() < deadline:
        await asyncio.sleep(every)
        now = await count(database_url)
        if now == last:
            break
        last = now
    return last


def per_case(before: Counts, after: Counts, cases: int) -> dict[str, Any]:
    """What the cases between the two counts put on the bus and took off it, per case."""
    if cases <= 0:
        return {"cases": 0}

    def each(schema: str, key: str) -> float:
        return round((after[schema].get(key, 0) - before[schema].get(key, 0)) / cases, 2)

    by_service = {
        s: {"produced": each(s, "produced"), "consumed": each(s, "consumed")} for s in SERVICES
    }
    return {
        "cases": cases,
        "by_service": by_service,
        "produced": round(sum(v["produced"] for v in by_service.values()), 2),
        "consumed": round(sum(v["consumed"] for v in by_service.values()), 2),
        "deliveries": each("notify", "deliveries"),
    }


def render(events: dict[str, Any]) -> list[str]:
    if not events.get("cases"):
        return []
    by = events["by_service"]

    def of(key: str) -> str:
        return ", ".join(f"{s} {by[s][key]:g}" for s in SERVICES)

    return [
        f"    events per case ({events['cases']} cases): {events['produced']:g} produced"
        f" ({of('produced')}), {events['consumed']:g} applied ({of('consumed')});"
        f" {events['deliveries']:g} messages planned"
    ]
