"""The consultation day runs as ordered steps on one stack: a step that fails skips the steps
after it (they build on its cases), and one headless Chromium serves them all."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from e2e_kit import CHROMIUM, CHROMIUM_ARGS, Shots

from tsunagu.devstack.infra import REPO_ROOT

SCREENSHOTS = REPO_ROOT / "test-output" / "e2e" / "screenshots"


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    failed = call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception)
    if "steps" in item.keywords and failed and call.when != "teardown":
        item.parent._failed_step = item.name  # type: ignore[union-attr]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if "steps" in item.keywords:
        failed = getattr(item.parent, "_failed_step", None)
        if failed is not None:
            pytest.skip(f"builds on {failed}, which failed")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "steps: ordered steps; a failure skips the rest")


@pytest.fixture(scope="module")
def shots() -> Shots:
    """Screenshots of every step, in test-output/e2e/screenshots (emptied first)."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return Shots(SCREENSHOTS)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"needs {CHROMIUM} (`make test` installs it as root, else: sudo apt-get install chromium fonts-noto-cjk)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
