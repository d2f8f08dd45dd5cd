"""The harness's own arithmetic, without infrastructure: mix, timing by the observer, report."""

from __future__ import annotations

import json

from benchmarks import mix, report
from benchmarks.observe import Observer, Topics


def test_the_mix_is_the_issues_mix_and_valid_for_intake():
    cases = mix.generate(3000, seed=1)
    shares = mix.shares(cases)
    assert abs(shares["compound"] - 1 / 3) < 0.04
    assert abs(shares["food_eligible"] - 1 / 4) < 0.04
    assert abs(shares["urgent"] - 1 / 20) < 0.02
    assert all(c.programmes for c in cases), "every case reaches at least its lead"
    assert mix.generate(50, seed=1) == mix.generate(50, seed=1), "reproducible for a seed"

    from tsunagu.intake.domain.case_input import CaseInput

    for spec in cases[:300]:
        CaseInput.model_validate(spec.with_event("bench-event"))


def _record(event_type: str, case_id: str, **data: object) -> bytes:
    return json.dumps({"event_type": event_type, "data": {"case_id": case_id, **data}}).encode()


def test_the_observer_times_every_stage_of_a_case():
    topics = Topics.registry("x.")
    obs = Observer("unused:0", topics)
    key = b"case-1"
    p1, p2 = topics.programmes[0], topics.programmes[1]
    refs = [{"programme": "a", "status": "pending"}, {"programme": "b", "status": "pending"},
            {"programme": "c", "status": "suggested"}]  # fmt: skip
    obs._on("bus", topics.intake, key, _record("case_created", "case-1"), 1.0)
    obs._on("referral", p1, key, _record("referral_created", "case-1"), 1.5)  # before case_routed
    obs._on(
        "routed", topics.routing_case, key, _record("case_routed", "case-1", referrals=refs), 1.6
    )
    obs._on("referral", p1, key, _record("referral_created", "case-1"), 1.7)  # a duplicate
    obs._on("referral", p2, key, _record("referral_created", "case-1"), 1.8)
    sent = {"status": "sent", "recipient_kind": "team", "template": "new_referral"}
    obs._on(
        "message",
        topics.delivery,
        key,
        _record("delivery_attempted", "case-1", delivery_id="d1", **sent),
        2.0,
    )
    obs._on("message", topics.delivery, key, _record("delivery_attempted", "case-1", delivery_id="d9",
            status="scheduled", recipient_kind="resident", template="acknowledgement"), 2.1)  # fmt: skip
    assert obs.arrival("message_all", "case-1") is None, "one of two staff messages so far"
    obs._on(
        "message",
        topics.delivery,
        key,
        _record("delivery_attempted", "case-1", delivery_id="d2", **sent),
        2.5,
    )

    assert obs.expected["case-1"] == 2, "suggested referrals are not sent yet"
    assert [obs.arrival(s, "case-1") for s in ("bus", "routed", "referral", "referral_all")] == [
        1.0,
        1.6,
        1.5,
        1.8,
    ]
    assert obs.arrival("message", "case-1") == 2.0
    assert obs.arrival("message_all", "case-1") == 2.5
    assert obs.delivery_statuses == {"new_referral:sent": 2, "acknowledgement:scheduled": 1}
    assert obs.first_message["case-1"] == ("d1", 0.0, 2.0), "(delivery, produced, arrived)"


def test_the_observer_keeps_when_each_first_record_was_produced():
    topics = Topics.registry("x.")
    obs = Observer("unused:0", topics)
    obs._on("bus", topics.intake, b"c", _record("case_created", "c"), 5.0, 100.25)
    obs._on("bus", topics.intake, b"c", _record("case_created", "c"), 5.5, 100.75)  # again
    obs._on("routed", topics.routing_case, b"c", _record("case_routed", "c"), 6.0, 101.0)
    assert obs.produced == {"bus": {"c": 100.25}, "routed": {"c": 101.0}}


def test_the_timeline_measures_each_segment_over_the_cases_that_have_both_ends():
    from benchmarks import timeline

    def path(due: float, **points: float | None) -> dict[str, float | None]:
        return {"due": due, **points}

    result = timeline.segments(
        [
            path(10.0, intake_tx=10.010, message_seen=10.200),
            path(20.0, intake_tx=20.030, message_seen=20.100),
            path(30.0, intake_tx=None, message_seen=30.300),  # intake's row not found
        ]
    )
    by_name = {s["segment"]: s for s in result["segments"]}
    first = by_name["intake: request -> case transaction starts"]
    assert (first["cases"], first["p50_ms"]) == (2, 20.0)
    end = by_name["end to end (due -> the observer sees the first staff message)"]
    assert (end["cases"], end["p50_ms"], end["p90_ms"]) == (3, 200.0, 300.0)
    assert by_name["intake relay: produce -> acked"]["p50_ms"] is None
    assert result["cases"] == 3
    assert any("200.0" in line for line in timeline.render(result))


def test_stage_table_and_ratios():
    starts = {f"k{i}": i * 0.01 for i in range(100)}
    arrivals = {
        "submit": {k: t + 0.002 for k, t in starts.items()},
        "message_all": {k: t + 0.050 + (0.1 if k == "k99" else 0) for k, t in starts.items()},
    }
    table = report.stage_table(starts, arrivals, starts)
    e2e = table["message_all"]
    assert e2e["completed"] == 100
    assert 49 <= e2e["p50_ms"] <= 51
    assert 149 <= e2e["max_ms"] <= 151
    assert table["routed"]["completed"] == 0

    def tier(p50: float, p99: float, thr: float) -> dict:
        stages = {"message_all": {"p50_ms": p50, "p99_ms": p99, "throughput_per_s": thr}}
        return {"rate": {"stages": stages}, "saturation": {"stages": stages}}

    results = {"floor": tier(10, 20, 1000), "system": tier(40, 100, 250), "rate_per_s": 200}
    r = report.ratios(results)["system/floor"]
    assert r == {
        "rate": {"message_all.p50_ms": 4.0, "message_all.p99_ms": 5.0},
        "max_throughput": 0.25,
    }
    results["ratios"] = report.ratios(results)
    printed = "\n".join(report.render_ratios(results))
    assert "message_all    p50 x4.00     p99 x5.00" in printed
    assert "max sustained throughput x0.250" in printed


def test_cpu_per_case_divides_the_runs_cpu_seconds_by_cases_delivered():
    resources = {
        "notify": {"cpu_pct_mean": 50.0, "cpu_pct_max": 90.0, "cpu_seconds": 2.7,
                   "rss_mib_mean": 120.0, "rss_mib_max": 121.0},
        "routing": {"cpu_pct_mean": 10.0, "cpu_pct_max": 20.0, "cpu_seconds": 0.6,
                    "rss_mib_mean": 100.0, "rss_mib_max": 101.0},
    }  # fmt: skip
    assert report.cpu_ms_per_case(resources["notify"], 100) == 27.0
    assert report.cpu_ms_per_case(resources["notify"], 0) is None
    lines = report.render_resources(resources, 100)
    assert "27.0" in lines[1] and "6.0" in lines[2]
    assert lines[-1].split()[-1] == "33.0"
    assert len(report.render_resources(resources)) == 3  # no cases: no total line


def test_events_per_case_are_the_difference_of_two_counts_over_the_cases():
    from benchmarks import events

    def counts(produced: int, consumed: int, deliveries: int) -> events.Counts:
        out = {s: {"produced": produced, "consumed": consumed} for s in events.SERVICES}
        out["notify"]["deliveries"] = deliveries
        return out

    before, after = counts(10, 20, 5), counts(30, 30, 11)
    after["routing"]["produced"] = 60  # routing: 50 events for the two cases
    got = events.per_case(before, after, cases=2)
    assert got["by_service"]["routing"] == {"produced": 25.0, "consumed": 5.0}
    assert got["by_service"]["intake"] == {"produced": 10.0, "consumed": 5.0}
    assert (got["produced"], got["consumed"], got["deliveries"]) == (55.0, 20.0, 3.0)
    (line,) = events.render(got)
    assert "55 produced" in line and "routing 25" in line and "20 applied" in line
    assert events.per_case(before, after, cases=0) == {"cases": 0}
    assert events.render({"cases": 0}) == []
