"""Notify's own settings (``TSUNAGU_NOTIFY_*``) and the clock the service reads time from.

Staff addresses come from patterns, so a council configures one line per kind of recipient
rather than a list of programmes; residents' addresses never come from here (they arrive
sealed on the bus, or in an imported list).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tsunagu.notify.domain.retry import RetryPolicy
from tsunagu.shared.clock import Clock, system_clock
from tsunagu.shared.contracts.codes import Programme

__all__ = ["Clock", "NotifyConfig", "system_clock"]


class NotifyConfig(BaseSettings):
    """Settings only notify reads; the shared ``Settings`` hold everything else."""

    model_config = SettingsConfigDict(env_prefix="TSUNAGU_NOTIFY_", extra="ignore")

    # --- email ---
    #: The SMTP relay. Unset in dev mode: the in-process mail catcher takes the mail instead.
    smtp_host: str | None = None
    #: The relay's port; in dev mode also the port the mail catcher listens on.
    smtp_port: int = Field(default=1025, gt=0, lt=65536)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = "つなぐ（社会福祉協議会） <noreply@tsunagu.example>"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    #: SMTP connections kept open and reused, at most this many at once.
    smtp_connections: int = Field(default=4, ge=1, le=32)
    #: In dev mode with no relay, catch every email in the notify database (``/dev/mail``).
    dev_mail_catcher: bool = True

    # --- SMS and chat ---
    sms_endpoint: str | None = None
    sms_api_key: SecretStr | None = None
    sms_timeout_seconds: float = Field(default=10.0, gt=0)
    #: In dev mode with no SMS provider, a local sink takes every SMS over HTTP (``/dev/sms``).
    dev_sms_sink: bool = True
    dev_sms_port: int = Field(default=1026, ge=1, le=65535)
    #: A chat webhook per programme team, e.g. ``'{"welfare_fund": "https://chat/..."}'``.
    webhooks: dict[str, str] = Field(default_factory=dict)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    # --- staff recipients ---
    team_address_pattern: str = "{programme}@team.tsunagu.example"
    supervisor_address_pattern: str = "{programme}-supervisor@team.tsunagu.example"
    staff_address_pattern: str = "{username}@staff.tsunagu.example"
    food_lead_address: str = "food-lead@staff.tsunagu.example"

    # --- what residents read ---
    council_name: str = "川口市社会福祉協議会"
    council_phone: str = "048-000-0000"
    #: Postal address printed as the sender of letters (one line).
    council_address: str = ""
    #: Base URL of the staff UI for links in staff messages; unset means intake's URL.
    staff_url: str | None = None
    #: The residents' events page (intake's /events) that invitations link to; unset means
    #: ``{staff_url or intake_url}/events``.
    events_url: str | None = None
    contact_promise_days: int = Field(default=3, ge=0)

    # --- the sender ---
    poll_seconds: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=20, gt=0)
    #: How long a claimed delivery is held by one sender before another may take it over.
    #: Must outlast a batch's sends (they are marked together, after the last one), or a slow
    #: send could be started twice: see ``_lease_outlasts_a_batch``.
    lease_seconds: float = Field(default=300.0, gt=0)
    retry_base_seconds: float = Field(default=120.0, gt=0)
    retry_factor: float = Field(default=2.0, ge=1)
    retry_cap_seconds: float = Field(default=7200.0, gt=0)
    retry_max_attempts: int = Field(default=8, ge=1)

    #: Largest accepted upload (the invitation CSV); other requests keep the shared limit.
    max_upload_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    #: Consumer group and inbox name; defaults to the service name. Only tests change it, so
    #: that concurrent test sessions on one broker do not split each other's partitions.
    consumer_name: str | None = None
    #: Moves the service's clock by this many seconds (real time plus the offset), so that a
    #: whole-system test run at night, when no resident message may go out, can still see them
    #: sent. For tests only: the service refuses to start with an offset when
    #: ``TSUNAGU_ENV=prod``.
    clock_offset_seconds: float = 0.0

    @field_validator("webhooks")
    @classmethod
    def _programme_codes(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            Programme(code)  # ValueError names the unknown code
        return value

    @field_validator("team_address_pattern", "supervisor_address_pattern")
    @classmethod
    def _programme_pattern(cls, value: str) -> str:
        return _pattern(value, "programme")

    @field_validator("staff_address_pattern")
    @classmethod
    def _username_pattern(cls, value: str) -> str:
        return _pattern(value, "username")

    @model_validator(mode="after")
    def _lease_outlasts_a_batch(self) -> NotifyConfig:
        # A batch's emails queue for the SMTP connections: the last may start only after
        # batch_size / smtp_connections rounds of sends.
        rounds = -(-self.batch_size // self.smtp_connections)
        longest = max(
            rounds * self.smtp_timeout_seconds,
            self.sms_timeout_seconds,
            self.webhook_timeout_seconds,
        )
        if self.lease_seconds <= longest:
            raise ValueError(
                "lease_seconds must exceed what a batch's sends may take: every channel "
                "timeout, and smtp_timeout_seconds × batch_size / smtp_connections"
            )
        return self

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=timedelta(seconds=self.retry_base_seconds),
            factor=self.retry_factor,
            cap=timedelta(seconds=self.retry_cap_seconds),
            max_attempts=self.retry_max_attempts,
        )

    def sender_lines(self) -> tuple[str, ...]:
        lines = [self.council_name, self.council_address, f"電話 {self.council_phone}"]
        return tuple(line for line in lines if line.strip())


def _pattern(value: str, placeholder: str) -> str:
    try:
        value.format(**{placeholder: "x"})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"the pattern may only use {{{placeholder}}}") from exc
    return value
