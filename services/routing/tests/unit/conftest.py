"""Shared fixtures for the routing domain's unit tests."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from tsunagu.routing.domain import RuleSet, load_rules

DEFAULT_RULES_TEXT = (
    resources.files("tsunagu.routing.domain") / "rules" / "default.yaml"
).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture
def default_rules_data() -> dict[str, Any]:
    """A fresh, mutable copy of the shipped rule set's data, for deriving new versions."""
    data: dict[str, Any] = yaml.safe_load(DEFAULT_RULES_TEXT)
    return data
