"""Cross-service tests: the stack helpers, and one running stack shared by the e2e and bad-input
tests (the chaos test builds its own, since it kills the broker)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from stack import build_stack, teardown_stack


@pytest.fixture(scope="session")
def stack():
    s = build_stack("e2e")
    try:
        s.start_all()
        yield s
    finally:
        teardown_stack(s)
