"""Shared fixtures for the routing domain's unit tests."""

from __future__ import annotations

import pytest

from tsunagu.routing.domain import RuleSet, load_rules


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return load_rules()
