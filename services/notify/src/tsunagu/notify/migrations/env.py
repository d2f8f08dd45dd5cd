"""Alembic environment of notify's schema."""

from tsunagu.notify.adapters.orm import tables
from tsunagu.shared.migrations import run_env

run_env(tables.metadata)
