"""Alembic environment of food distribution: its own schema, its own history."""

from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.shared.migrations import run_env

run_env(tables.metadata)
