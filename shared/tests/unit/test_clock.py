"""Which day it is in Japan, and the test-only pin that keeps a test stack on one day."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError

from tsunagu.shared import clock
from tsunagu.shared.clock import JAPAN, japan_today
from tsunagu.shared.runtime import ServiceRuntime, ServiceTables
from tsunagu.shared.settings import Settings


@pytest.fixture(autouse=True)
def unpinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "_pinned_today", None)  # put back as it was after the test


def test_today_is_the_date_in_tokyo() -> None:
    before = datetime.now(JAPAN).date()
    today = japan_today()
    assert today in (before, datetime.now(JAPAN).date())  # a test may itself pass midnight


def test_a_service_runtime_pins_the_day_its_test_settings_name() -> None:
    yesterday = datetime.now(JAPAN).date() - timedelta(days=1)
    runtime = ServiceRuntime(
        Settings(service="food_distribution", env="test", pinned_date=yesterday),
        ServiceTables("probe"),
    )
    assert japan_today() == yesterday
    # A runtime without a pin in the same process does not unpin it.
    ServiceRuntime(Settings(service="notify", env="test"), ServiceTables("probe"))
    assert japan_today() == yesterday
    assert runtime.settings.pinned_date == yesterday


def test_a_pinned_date_is_refused_in_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSUNAGU_PINNED_DATE", "2026-11-28")
    assert Settings(service="intake", env="test").pinned_date == date(2026, 11, 28)
    with pytest.raises(ValidationError, match="TSUNAGU_PINNED_DATE is for tests"):
        Settings(service="intake", env="prod")
