"""Alembic environment of routing's schema."""

from tsunagu.routing.adapters.orm import tables
from tsunagu.shared.migrations import run_env

run_env(tables.metadata)
