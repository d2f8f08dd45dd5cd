"""Latency histograms, the printed report and the machine-readable results.

Latencies are recorded in microseconds in HDR histograms (1 µs .. 1 h, 3 significant digits)
and reported in milliseconds. Results are plain JSON-able dicts; ``render`` prints them with the
ratios last, ``write_json`` keeps them under ``var/bench/results``.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil
from hdrh.histogram import HdrHistogram

#: Stages of a case, in order. Every latency is measured from the moment the case was
#: submitted (its scheduled send time in a rate run, its send time in a saturation run).
STAGES: tuple[tuple[str, str], ...] = (
    ("submit", "HTTP 201 from intake (floor: acked)"),
    ("bus", "case_created on intake.case.v1"),
    ("routed", "(a) case_routed on routing.case.v1"),
    ("referral", "(b) first referral_created"),
    ("referral_all", "(b) every referral_created of it"),
    ("message", "(c) first staff message sent"),
    ("message_all", "(c) every staff message sent"),
)
END_TO_END = "message_all"


class Latency:
    """An HDR histogram of seconds, kept in microseconds."""

    def __init__(self) -> None:
        self.h = HdrHistogram(1, 3_600_000_000, 3)

    def record(self, seconds: float) -> None:
        self.h.record_value(min(max(1, int(seconds * 1e6)), 3_600_000_000))

    def summary(self) -> dict[str, Any]:
        n = self.h.get_total_count()
        if n == 0:
            return {"count": 0}

        def ms(us: float) -> float:
            return round(us / 1000, 2)

        return {
            "count": n,
            "p50_ms": ms(self.h.get_value_at_percentile(50)),
            "p90_ms": ms(self.h.get_value_at_percentile(90)),
            "p99_ms": ms(self.h.get_value_at_percentile(99)),
            "max_ms": ms(self.h.get_max_value()),
            "mean_ms": ms(self.h.get_mean_value()),
            # HdrHistogram's compressed base64 form: HdrHistogram.decode() reads it back.
            "hdr": self.h.encode().decode(),
        }


def stage_table(
    starts: dict[str, float],
    arrivals: dict[str, dict[str, float]],
    keys: Iterable[str],
) -> dict[str, Any]:
    """Per stage: latency percentiles and throughput (completed / (last arrival - first start))."""
    keys = list(keys)
    first_start = min((starts[k] for k in keys if k in starts), default=0.0)
    out: dict[str, Any] = {}
    for stage, _ in STAGES:
        seen = arrivals.get(stage, {})
        lat = Latency()
        last = first_start
        done = 0
        for k in keys:
            t = seen.get(k)
            if t is None or k not in starts:
                continue
            lat.record(t - starts[k])
            last = max(last, t)
            done += 1
        row = lat.summary()
        span = last - first_start
        row["completed"] = done
        row["of"] = len(keys)
        row["throughput_per_s"] = round(done / span, 1) if span > 0 and done else 0.0
        out[stage] = row
    return out


def machine() -> dict[str, Any]:
    freq = psutil.cpu_freq()
    return {
        "cpus": psutil.cpu_count(logical=True),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_mhz": round(freq.max or freq.current) if freq else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_avg_at_start": [round(x, 2) for x in psutil.getloadavg()],
    }


# --- printing ---------------------------------------------------------------------------------


def _f(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def render_stages(title: str, run: dict[str, Any]) -> list[str]:
    lines = [f"  {title}"]
    if run.get("note"):
        lines.append(f"    {run['note']}")
    lines.append(
        f"    {'stage':<50}{'done':>11}{'thr/s':>9}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}  ms"
    )
    labels = dict(STAGES)
    for stage, row in run["stages"].items():
        if stage == "bus" and not row.get("completed") and run.get("hide_empty_bus"):
            continue
        label = f"{stage:<13}{labels.get(stage, '')}"[:49]
        done = f"{row.get('completed', 0)}/{row.get('of', 0)}"
        lines.append(
            f"    {label:<50}{done:>11}{_f(row.get('throughput_per_s')):>9}"
            f"{_f(row.get('p50_ms')):>9}{_f(row.get('p90_ms')):>9}"
            f"{_f(row.get('p99_ms')):>9}{_f(row.get('max_ms')):>9}"
        )
    return lines


def cpu_ms_per_case(res: dict[str, Any], cases: int) -> float | None:
    """CPU time a process spent in the run, per case that came out of it (end to end)."""
    seconds = res.get("cpu_seconds")
    return round(seconds * 1000 / cases, 1) if cases and seconds is not None else None


def render_resources(res: dict[str, dict[str, Any]], cases: int = 0) -> list[str]:
    """Per process; ``cases`` (delivered end to end) adds the CPU milliseconds per case."""
    lines = [
        f"    {'process':<28}{'cpu% mean':>10}{'cpu% max':>10}{'RSS MiB mean':>14}{'max':>8}"
        f"{'CPU ms/case':>13}"
    ]
    total = 0.0
    for name, r in res.items():
        per_case = cpu_ms_per_case(r, cases)
        total += per_case or 0.0
        lines.append(
            f"    {name:<28}{_f(r['cpu_pct_mean']):>10}{_f(r['cpu_pct_max']):>10}"
            f"{_f(r['rss_mib_mean']):>14}{_f(r['rss_mib_max']):>8}{_f(per_case):>13}"
        )
    if cases:
        lines.append(f"    {'all of the above':<70}{_f(round(total, 1)):>13}")
    return lines


def render_lag(lag: dict[str, Any]) -> list[str]:
    parts = []
    for group, g in sorted(lag.items(), key=lambda kv: -kv[1]["max"]):
        if not g["max"]:
            continue
        worst = ", ".join(f"{t} {v}" for t, v in list(g["max_by_topic"].items())[:2])
        parts.append(f"{group} {g['max']} ({worst})")
    return [f"    consumer lag, most records behind: {'; '.join(parts) or 'none'}"]


def render_database(db: dict[str, Any]) -> list[str]:
    states = ", ".join(f"{k} {v:g}" for k, v in db.get("mean_connections", {}).items() if v >= 0.05)
    lines = [f"    database connections (mean): {states or 'none'}"]
    if db.get("deadlocks") is not None:
        lines.append(f"      deadlocks counted by PostgreSQL: {db['deadlocks']}")
    for w in db.get("lock_waits", []):
        if w["mean_waiting"] < 0.05:
            continue
        lines.append(f"      {w['mean_waiting']:g} waiting on a lock in: {w['query']}")
    return lines


def render_tier(name: str, tier: dict[str, Any]) -> list[str]:
    lines = [f"== {name}: {tier.get('what', '')}"]
    if tier.get("skipped"):
        lines.append(f"  SKIPPED: {tier['skipped']}")
        return lines
    if tier.get("error"):
        lines.append(f"  FAILED: {tier['error']}")
    if tier.get("idle"):
        lines.append(f"  {tier['idle']['title']}")
        lines += render_resources(tier["idle"]["resources"])
    for key in ("light", "rate", "saturation", "target_rate"):
        run = tier.get(key)
        if not run:
            continue
        lines += render_stages(run["title"], run)
        if run.get("resources"):
            delivered = run.get("stages", {}).get("message_all", {}).get("completed", 0)
            lines += render_resources(run["resources"], delivered)
        if run.get("events"):
            from benchmarks.events import render as render_events

            lines += render_events(run["events"])
        if run.get("consumer_lag"):
            lines += render_lag(run["consumer_lag"])
        if run.get("database"):
            lines += render_database(run["database"])
        if run.get("timeline"):
            from benchmarks.timeline import render as render_timeline

            lines.append(f"    where a case's time goes ({run['timeline']['cases']} cases):")
            lines += ["  " + line for line in render_timeline(run["timeline"])]
        for extra in run.get("notes", []):
            lines.append(f"    note: {extra}")
    for hop, st in (tier.get("hop_stats") or {}).items():
        lines.append(
            f"  {hop}, whole run: {st['messages']:,} messages in {st['batches']:,} batches; "
            f"insert-and-commit {st['db_s']:.1f} s, waiting for acks {st['ack_s']:.1f} s, "
            f"offset commits {st['commit_s']:.1f} s"
        )
    return lines


RATIO_STAGES = ("routed", "referral", "message", END_TO_END)


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """tier/floor for framework and system: p50 and p99 per stage in the latency run at the
    profile's rate (``rate``) and under light load (``light``), and max sustained throughput."""
    out: dict[str, Any] = {}
    floor = results.get("floor") or {}
    for tier_name in ("framework", "system"):
        tier = results.get(tier_name) or {}
        if tier.get("skipped") or not floor.get("rate") or not tier.get("rate"):
            continue
        row: dict[str, Any] = {}
        for run in ("light", "rate"):
            if not floor.get(run) or not tier.get(run):
                continue
            per: dict[str, float] = {}
            for stage in RATIO_STAGES:
                f = floor[run]["stages"].get(stage, {})
                s = tier[run]["stages"].get(stage, {})
                for p in ("p50_ms", "p99_ms"):
                    if f.get(p) and s.get(p):
                        per[f"{stage}.{p}"] = round(s[p] / f[p], 2)
            row[run] = per
        fs = (floor.get("saturation") or {}).get("stages", {}).get(END_TO_END, {})
        ss = (tier.get("saturation") or {}).get("stages", {}).get(END_TO_END, {})
        if fs.get("throughput_per_s") and ss.get("throughput_per_s"):
            row["max_throughput"] = round(ss["throughput_per_s"] / fs["throughput_per_s"], 3)
        out[f"{tier_name}/floor"] = row
    return out


def render_ratios(results: dict[str, Any]) -> list[str]:
    lines = ["== ratios (printed last)"]
    r = results.get("ratios") or {}
    if not r:
        lines.append("  no ratios: a tier did not produce figures (see above)")
    profile = results.get("profile") or {}
    rates = {"rate": results.get("rate_per_s"), "light": profile.get("light_rate")}
    for name, row in r.items():
        for run in ("light", "rate"):
            if not row.get(run):
                continue
            lines.append(
                f"  {name}, latency at {rates[run]:g} cases/s{' (light load)' if run == 'light' else ''}:"
            )
            for stage in RATIO_STAGES:
                p50, p99 = row[run].get(f"{stage}.p50_ms"), row[run].get(f"{stage}.p99_ms")
                if p50 is None and p99 is None:
                    continue
                lines.append(f"    {stage:<14} p50 x{_f(p50, 2):<8} p99 x{_f(p99, 2)}")
        if "max_throughput" in row:
            lines.append(f"  {name}, max sustained throughput x{row['max_throughput']:.3f}")
    lines += render_scaling(results.get("scaling") or {})
    lines += render_targets(results)
    return lines


def render_scaling(scaling: dict[str, Any]) -> list[str]:
    lines = ["  scaling:"]
    if scaling.get("skipped"):
        lines.append(f"    skipped: {scaling['skipped']}")
        return lines
    for tier, s in scaling.items():
        if not isinstance(s, dict):
            continue
        cases = s.get("cases")
        if cases:
            lines.append(
                f"    {tier} {cases['small']['cases']} -> {cases['large']['cases']} cases: "
                f"time x{_f(cases.get('time_ratio'), 2)}, throughput "
                f"{_f(cases['small'].get('throughput_per_s'))} -> "
                f"{_f(cases['large'].get('throughput_per_s'))}/s, peak RSS growth "
                f"{_f(cases.get('max_rss_growth_pct'))} % ({cases.get('max_rss_growth_process', '-')})"
            )
        rep = s.get("replicas")
        if rep:
            lines.append(
                f"    {tier} {rep['stage']} with 2 replicas vs 1: "
                f"{_f(rep['one'].get('throughput_per_s'))} -> "
                f"{_f(rep['two'].get('throughput_per_s'))}/s = x{_f(rep.get('speedup'), 2)}"
            )
        if s.get("skipped"):
            lines.append(f"    {tier}: skipped: {s['skipped']}")
    return lines


#: Issue 9's targets for the full run on a 2-core machine; reported, never asserted.
TARGETS = (
    "sustained >= 1,000 cases/s intake -> staff message, every case delivered",
    "p99 end-to-end at 200 cases/s <= 3 x floor p99; p50 <= 50 ms",
    "memory flat 1x -> 10x cases; routing 2 replicas >= 1.7 x one",
)


def targets(results: dict[str, Any]) -> dict[str, Any]:
    system = results.get("system") or {}
    floor = results.get("floor") or {}
    out: dict[str, Any] = {}
    if system.get("skipped") or not system.get("rate"):
        return {"evaluated": False, "why": "the system run produced no figures"}
    e2e = system["rate"]["stages"][END_TO_END]
    f_e2e = (floor.get("rate") or {}).get("stages", {}).get(END_TO_END, {})
    if e2e.get("p50_ms") is not None:
        out["p50_le_50ms"] = e2e["p50_ms"] <= 50
    if e2e.get("p99_ms") and f_e2e.get("p99_ms"):
        out["p99_le_3x_floor"] = e2e["p99_ms"] <= 3 * f_e2e["p99_ms"]
    tr = system.get("target_rate")
    if tr:
        out["sustained_1000_per_s"] = bool(tr.get("sustained"))
    sc = (results.get("scaling") or {}).get("system") or {}
    if sc.get("cases"):
        out["memory_flat_1x_10x"] = (sc["cases"].get("max_rss_growth_pct") or 0) <= 10
    if sc.get("replicas"):
        out["routing_2_replicas_ge_1_7x"] = (sc["replicas"].get("speedup") or 0) >= 1.7
    out["rate_per_s"] = results.get("rate_per_s")
    return out


def render_targets(results: dict[str, Any]) -> list[str]:
    t = results.get("targets") or {}
    lines = ["  targets (issue 9, full run, not asserted):"]
    if not t.get("evaluated", True):
        lines.append(f"    not evaluated: {t.get('why')}")
        return lines
    for k, v in t.items():
        if k != "rate_per_s":
            lines.append(f"    {k:<28} {'met' if v else 'NOT met'}")
    if results.get("mode") != "full":
        lines.append("    (quick mode: too short to judge; figures are indicative only)")
    return lines


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Tsunagu benchmark, {results['mode']} mode, {results['started_at']}",
        f"machine: {m['cpus']} CPUs, {m['memory_gib']} GiB, {m['platform']}; "
        f"load average at start {m['load_avg_at_start']}",
        f"mix: {results.get('mix')}",
        "",
    ]
    for tier in ("floor", "framework", "system"):
        if tier in results:
            lines += render_tier(tier, results[tier])
            lines.append("")
    lines += render_ratios(results)
    if results.get("results_file"):
        lines.append(f"\nresults: {results['results_file']}")
    return "\n".join(lines)


def write_json(results: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = results["started_at"].replace(":", "").replace("-", "")
    path = directory / f"{stamp}-{results['mode']}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    return path
