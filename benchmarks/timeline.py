"""Where a light-load case's milliseconds go: the path of each case, hop by hop.

After the system's light-load run, each case's path is put together from timestamps the
system already keeps, so nothing in the services is instrumented for it:

- the driver's due time and intake's ``201`` (the load generator's clock);
- each outbox row's ``created_at`` (PostgreSQL's ``now()``: the start of the transaction that
  wrote it) and ``sent_at`` (the relay, once Kafka acknowledged the batch);
- each inbox row's ``applied_at`` (the start of the consumer's transaction that applied it);
- the Kafka record's timestamp (``CreateTime``: when the relay handed it to its producer), as
  the observer received it, and the moment the observer received it;
- notify's delivery (``created_at``: its planning transaction) and the send's attempt (``at``:
  the SMTP exchange done).

All of these are wall-clock times of one machine. Kafka's timestamps have millisecond
resolution, so a segment of ~1 ms reads as 0-2 ms. Per segment: the median and the 90th
percentile over the cases, in milliseconds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

#: The segments in path order: (name, start, end), each a key of ``points`` below.
SEGMENTS: tuple[tuple[str, str, str], ...] = (
    ("intake: request -> case transaction starts", "due", "intake_tx"),
    ("intake: case transaction -> 201 at the driver", "intake_tx", "accepted"),
    ("intake: case transaction -> relay hands case_created to Kafka", "intake_tx", "created_sent"),
    ("intake relay: produce -> acked", "created_sent", "created_acked"),
    ("Kafka -> routing's transaction starts (fetch)", "created_sent", "routing_tx"),
    ("routing: transaction -> relay hands case_routed to Kafka", "routing_tx", "routed_sent"),
    ("routing relay: produce -> acked", "routed_sent", "routed_acked"),
    ("Kafka -> notify's planning transaction starts (fetch)", "routed_sent", "notify_tx"),
    ("notify: planning transaction -> message sent (SMTP done)", "notify_tx", "smtp_done"),
    ("notify: SMTP done -> mark transaction starts", "smtp_done", "mark_tx"),
    ("notify: mark transaction -> relay hands delivery_attempted to Kafka", "mark_tx", "message_sent"),
    ("Kafka -> the observer (its own fetch)", "message_sent", "message_seen"),
    ("end to end (due -> the observer sees the first staff message)", "due", "message_seen"),
)  # fmt: skip


def _wall(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


async def collect(
    database_url: str, observer: Any, subs: Any, keys: Iterable[str]
) -> dict[str, Any]:
    """The segments of the cases ``keys`` (those that reached a staff message)."""
    import asyncpg

    from tsunagu.shared.db import asyncpg_dsn

    offset = time.time() - time.perf_counter()  # the driver's clock -> wall clock
    cases = [k for k in keys if k in observer.first_message]
    if not cases:
        return {"cases": 0, "segments": []}
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        created = {
            r["aggregateid"]: r
            for r in await conn.fetch(
                "SELECT id, aggregateid, created_at, sent_at FROM intake.outbox"
                " WHERE type = 'case_created' AND aggregateid = ANY($1::text[])",
                cases,
            )
        }
        applied = {
            r["event_id"]: r["applied_at"]
            for r in await conn.fetch(
                "SELECT event_id, min(applied_at) AS applied_at FROM routing.inbox"
                " WHERE event_id = ANY($1::text[]) GROUP BY event_id",
                [r["id"] for r in created.values()],
            )
        }
        routed = {
            r["aggregateid"]: r
            for r in await conn.fetch(
                "SELECT aggregateid, created_at, sent_at FROM routing.outbox"
                " WHERE type = 'case_routed' AND aggregateid = ANY($1::text[])",
                cases,
            )
        }
        deliveries = {
            r["id"]: r
            for r in await conn.fetch(
                "SELECT d.id, d.created_at, a.at AS sent, i.applied_at"
                " FROM notify.delivery d"
                " JOIN notify.delivery_attempt a ON a.delivery_id = d.id AND a.status = 'sent'"
                " LEFT JOIN notify.inbox i ON i.event_id = d.source_event_id"
                " WHERE d.id = ANY($1::text[])",
                [observer.first_message[c][0] for c in cases],
            )
        }
        marks = {
            r["delivery_id"]: r["created_at"]
            for r in await conn.fetch(
                "SELECT payload->'data'->>'delivery_id' AS delivery_id, created_at"
                " FROM notify.outbox WHERE type = 'delivery_attempted'"
                " AND payload->'data'->>'status' = 'sent'"
                " AND payload->'data'->>'delivery_id' = ANY($1::text[])",
                list(deliveries),
            )
        }
    finally:
        await conn.close()

    paths: list[dict[str, float | None]] = []
    for case in cases:
        delivery_id, message_produced, message_seen = observer.first_message[case]
        c, r, d = created.get(case), routed.get(case), deliveries.get(delivery_id)
        points: dict[str, float | None] = {
            "due": subs.starts[case] + offset,
            "accepted": subs.accepted[case] + offset,
            "intake_tx": _wall(c["created_at"]) if c else None,
            "created_sent": observer.produced["bus"].get(case),
            "created_acked": _wall(c["sent_at"]) if c else None,
            "routing_tx": _wall(applied.get(c["id"])) if c else None,
            "routed_sent": observer.produced["routed"].get(case),
            "routed_acked": _wall(r["sent_at"]) if r else None,
            "notify_tx": _wall(d["applied_at"]) if d else None,
            "smtp_done": _wall(d["sent"]) if d else None,
            "mark_tx": _wall(marks.get(delivery_id)),
            "message_sent": message_produced,
            "message_seen": message_seen + offset,
        }
        paths.append(points)
    return segments(paths)


def segments(paths: list[dict[str, float | None]]) -> dict[str, Any]:
    """Per segment of ``SEGMENTS``, over the cases whose two points are known: p50 and p90 in
    milliseconds (``paths``: per case, each point's wall-clock time in seconds)."""
    values: dict[str, list[float]] = {name: [] for name, _, _ in SEGMENTS}
    for points in paths:
        for name, start, end in SEGMENTS:
            a, b = points.get(start), points.get(end)
            if a is not None and b is not None:
                values[name].append((b - a) * 1000)
    return {
        "cases": len(paths),
        "segments": [
            {
                "segment": name,
                "cases": len(v),
                "p50_ms": round(statistics.median(v), 1) if v else None,
                "p90_ms": round(_quantile(v, 0.9), 1) if v else None,
            }
            for name, v in values.items()
        ],
    }


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render(result: dict[str, Any]) -> list[str]:
    """The report's lines for ``collect``'s result."""
    if not result.get("cases"):
        return ["  (no case reached a staff message)"]
    lines = [f"  {'segment':<72} {'p50 ms':>8} {'p90 ms':>8}"]
    for s in result["segments"]:
        p50 = "-" if s["p50_ms"] is None else f"{s['p50_ms']:.1f}"
        p90 = "-" if s["p90_ms"] is None else f"{s['p90_ms']:.1f}"
        lines.append(f"  {s['segment']:<72} {p50:>8} {p90:>8}")
    return lines
