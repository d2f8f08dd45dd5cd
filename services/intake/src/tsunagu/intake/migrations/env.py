"""Alembic environment for intake's schema (the body is shared by every service)."""

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.migrations import run_env

run_env(tables.metadata)
