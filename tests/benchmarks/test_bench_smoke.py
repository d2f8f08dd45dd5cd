"""`make bench` in miniature: the harness starts its own Kafka and PostgreSQL, runs the floor and
(where the services run) the system, and reports figures. Asserts only that it ran."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from benchmarks import run as bench

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _has_figures(run: dict) -> None:
    e2e = run["stages"]["message_all"]
    assert run["accepted"] > 0
    assert e2e["completed"] == run["accepted"], run.get("notes")
    assert 0 < e2e["p50_ms"] <= e2e["p99_ms"] <= e2e["max_ms"]
    assert e2e["throughput_per_s"] > 0
    assert run["resources"], "CPU and memory were sampled"


def test_the_quick_benchmark_runs_and_produces_figures(tmp_path: Path, capsys):
    t0 = time.monotonic()
    try:
        results = bench.run(["--smoke", "--results-dir", str(tmp_path), "--wait", "120"])
    except bench.Busy as exc:
        pytest.skip(f"{exc} (a benchmark is running on this machine)")
    took = time.monotonic() - t0

    floor = results["floor"]
    assert "error" not in floor, floor.get("traceback")
    _has_figures(floor["rate"])
    _has_figures(floor["saturation"])

    system = results["system"]
    if system.get("skipped"):
        assert "not runnable" in system["skipped"]
    else:
        assert "error" not in system, system.get("traceback")
        _has_figures(system["rate"])
        assert results["ratios"]["system/floor"]["rate"]["message_all.p99_ms"] > 0

    assert Path(results["results_file"]).exists()
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert results["git_commit"] == head.stdout.strip(), "every figure is recorded with its commit"
    printed = capsys.readouterr().out
    assert printed.rstrip().splitlines()[-1].startswith("results:")
    assert "== ratios (printed last)" in printed
    assert printed.index("== ratios") > printed.index("== floor")
    assert took < 200
