"""Routing's own settings (``TSUNAGU_ROUTING_*``) and the clock the service reads time from."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tsunagu.shared.clock import Clock, system_clock

__all__ = ["Clock", "RoutingConfig", "system_clock"]


class RoutingConfig(BaseSettings):
    """Settings only routing reads; the shared ``Settings`` hold everything else."""

    model_config = SettingsConfigDict(env_prefix="TSUNAGU_ROUTING_", extra="ignore")

    #: A rule set YAML file; unset means the shipped ``domain/rules/default.yaml``.
    #: Validated at start-up: a bad file stops the service before it consumes anything.
    rules_path: Path | None = None
    #: How often the deadline scanner looks for overdue referrals.
    scan_interval_seconds: float = Field(default=30.0, gt=0)
    #: Overdue referrals escalated per transaction.
    scan_batch_size: int = Field(default=100, gt=0)
    #: Consumer group and inbox name; defaults to the service name. Only tests change it, so
    #: that concurrent test sessions on one broker do not split each other's partitions.
    consumer_name: str | None = None
    #: Moves the service's clock by this many seconds (real time plus the offset), so that an
    #: end-to-end test can let acceptance deadlines pass without waiting for them. For tests
    #: only: the service refuses to start with an offset when ``TSUNAGU_ENV=prod``.
    clock_offset_seconds: float = 0.0
