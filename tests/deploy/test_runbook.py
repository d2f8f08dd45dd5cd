"""deploy/README.md stays the configuration reference: every setting, every topic command."""

from __future__ import annotations

from pathlib import Path

from tsunagu.shared.settings import Settings

README = Path(__file__).resolve().parents[2] / "deploy" / "README.md"


def test_every_tsunagu_variable_is_documented():
    text = README.read_text(encoding="utf-8")
    missing = [
        f"TSUNAGU_{name.upper()}"
        for name in Settings.model_fields
        if f"`TSUNAGU_{name.upper()}`" not in text
    ]
    assert not missing, f"deploy/README.md does not document {missing}"


def test_runbook_covers_the_operations():
    text = README.read_text(encoding="utf-8")
    for needle in (
        "tsunagu dlq list",
        "tsunagu dlq replay",
        "tsunagu_outbox_backlog",
        "tsunagu_outbox_published_total",
        "tsunagu_consumer_messages_total",
        "generate_kafka.py",
        "pg_dump",
        "barmanObjectStore",
    ):
        assert needle in text, needle
