"""The composition root: the rule set is chosen by settings and checked before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tsunagu.routing.bootstrap import build_runtime
from tsunagu.routing.config import RoutingConfig
from tsunagu.routing.domain import RuleSetError
from tsunagu.shared.settings import Settings

SETTINGS = Settings(service="routing", env="test")


def test_the_shipped_rule_set_by_default() -> None:
    runtime = build_runtime(SETTINGS, config=RoutingConfig())
    assert runtime.routing.rules.version == "2026.1"


def test_a_new_rule_version_from_a_file(tmp_path: Path, default_rules_data: dict[str, Any]) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({**default_rules_data, "version": "2026.2"}), encoding="utf-8")
    runtime = build_runtime(SETTINGS, config=RoutingConfig(rules_path=path))
    assert runtime.routing.rules.version == "2026.2"


def test_the_path_comes_from_the_environment(
    tmp_path: Path, default_rules_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({**default_rules_data, "version": "2026.3"}), encoding="utf-8")
    monkeypatch.setenv("TSUNAGU_ROUTING_RULES_PATH", str(path))
    monkeypatch.setenv("TSUNAGU_ROUTING_SCAN_INTERVAL_SECONDS", "0.5")
    runtime = build_runtime(SETTINGS)
    assert runtime.routing.rules.version == "2026.3"
    assert runtime.scanner.interval == 0.5


def test_a_bad_rule_file_stops_the_service_at_start_up(
    tmp_path: Path, default_rules_data: dict[str, Any]
) -> None:
    data = {
        **default_rules_data,
        "compound": {**default_rules_data["compound"], "coordinator": "x"},
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(RuleSetError, match=r"compound\.coordinator"):
        build_runtime(SETTINGS, config=RoutingConfig(rules_path=path))


def test_the_clock_is_injected() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 6, 1, 0, tzinfo=UTC)
    runtime = build_runtime(SETTINGS, lambda: moment, config=RoutingConfig())
    assert runtime.routing.now() == moment


def test_a_clock_offset_from_the_environment_moves_routing_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime, timedelta

    monkeypatch.setenv("TSUNAGU_ROUTING_CLOCK_OFFSET_SECONDS", "7200")
    runtime = build_runtime(SETTINGS)
    ahead = runtime.routing.now() - datetime.now(UTC)
    assert timedelta(hours=2) - timedelta(seconds=5) < ahead <= timedelta(hours=2)


def test_no_offset_means_real_time() -> None:
    from tsunagu.routing.config import system_clock

    runtime = build_runtime(SETTINGS, config=RoutingConfig())
    assert runtime.routing.clock is system_clock


def test_an_injected_clock_wins_over_the_offset() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 6, 1, 0, tzinfo=UTC)
    runtime = build_runtime(SETTINGS, lambda: moment, config=RoutingConfig(clock_offset_seconds=60))
    assert runtime.routing.now() == moment


def test_a_clock_offset_is_refused_in_prod() -> None:
    prod = Settings(service="routing", env="prod")
    with pytest.raises(RuntimeError, match="CLOCK_OFFSET"):
        build_runtime(prod, config=RoutingConfig(clock_offset_seconds=3600))
