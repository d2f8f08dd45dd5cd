"""Settings shared by every service, read from ``TSUNAGU_`` environment variables.

Fail closed: ``env`` is ``prod`` unless a local development mode (``dev`` for the launcher,
``test`` for the test stack) is chosen explicitly, and ``check_production`` refuses to start
with a missing signing key, a development key, an example placeholder or a short secret.
Each secret may also come from a file: ``TSUNAGU_<NAME>_FILE`` (compose and Kubernetes secrets).
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Development-only defaults. ``Settings.check_production`` refuses them outside dev/test.
DEV_CONTACT_KEY = "ZGV2LW9ubHktY29udGFjdC1rZXktY2hhbmdlLW1lISE="
DEV_MASTER_KEY = "ZGV2LW9ubHktbWFzdGVyLWtleS1jaGFuZ2UtbWUhISE="
DEV_SERVICE_CREDENTIAL = "dev-only-service-credential-"
#: Words the example files use as placeholders; a secret containing one is not a secret.
PLACEHOLDER_WORDS = ("change-me", "changeme", "placeholder", "example", "xxxx", "dev-only")
MIN_SECRET_LENGTH = 16
#: Secrets that may be given as ``TSUNAGU_<NAME>_FILE`` (a path) instead of their value.
FILE_SETTINGS = (
    "auth_private_key",
    "auth_public_key",
    "contact_key",
    "master_key",
    "service_credential",
    "service_credentials",
    "database_url",
    "database_password",
    "kafka_sasl_password",
)
LOCAL_MODES = ("dev", "test")

_ephemeral_keys: tuple[str, str] | None = None


#: The services that call others' internal endpoints, and so need a credential of their own.
CALLERS = ("intake", "notify", "food_distribution")


def dev_service_credential(service: str) -> str:
    """A service's credential outside prod, when none is configured."""
    return DEV_SERVICE_CREDENTIAL + service


def _ephemeral_keypair() -> tuple[str, str]:
    """A key pair for this process only, in a local mode with no keys configured (unit tests,
    a single process): tokens it signs are valid nowhere else."""
    global _ephemeral_keys
    if _ephemeral_keys is None:
        from tsunagu.shared.auth import generate_keypair

        _ephemeral_keys = generate_keypair()
    return _ephemeral_keys


class Settings(BaseSettings):
    """Every ``TSUNAGU_`` variable that all services understand (see deploy/README.md)."""

    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", extra="ignore")

    service: str = "tsunagu"
    #: ``prod`` unless set: dev (the launcher) and test (the test stack) relax the checks.
    env: Literal["dev", "test", "prod"] = "prod"
    log_level: str = "INFO"

    kafka_bootstrap: str = "127.0.0.1:9092"
    #: PLAINTEXT for the local launcher and compose; SASL_SSL with SCRAM on Kubernetes (Strimzi).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    #: One PostgreSQL database; each service keeps its tables in its own schema.
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/tsunagu"
    #: The password of ``database_url``'s role, when it is kept apart from the URL (a file).
    database_password: SecretStr | None = None
    db_pool_size: int = 20
    #: How long a connection attempt, and each statement, may wait for a server that accepts
    #: but does not answer (hung or frozen) before it fails as a transient fault (ADR 10).
    db_connect_timeout_seconds: float = 5.0
    db_command_timeout_seconds: float = 15.0

    http_host: str = "127.0.0.1"
    http_port: int | None = None
    #: Public base URLs, used for links between the staff pages of the services.
    intake_url: str = "http://127.0.0.1:8000"
    routing_url: str = "http://127.0.0.1:8001"
    notify_url: str = "http://127.0.0.1:8002"
    food_url: str = "http://127.0.0.1:8003"

    #: Ed25519 key pair (PEM) for staff tokens. Only intake is given the private key; the
    #: others get the public key. In dev/test without either, a key pair of the process's own.
    auth_private_key: SecretStr | None = None
    auth_public_key: str | None = None
    token_ttl_seconds: int = 8 * 3600
    session_idle_seconds: int = 30 * 60
    #: Fernet key that seals residents' contact details on the bus: only the services that seal
    #: or open them get it (intake, notify, food distribution). Unset in dev/test: a
    #: development key, refused in prod.
    contact_key: SecretStr | None = None
    demo_password: SecretStr = SecretStr("tsunagu-demo")
    #: Intake: the master key (Fernet) that wraps every resident's data key, and its id, which
    #: each wrapped key records (ADR 12). Older master keys by id still unwrap (rotation).
    master_key: SecretStr = SecretStr(DEV_MASTER_KEY)
    master_key_id: str = "local-1"
    master_keys_older: dict[str, SecretStr] = Field(default_factory=dict)
    #: This service's credential for the other services' internal endpoints (keys, disclosure),
    #: and, on the receiving side, the credential expected of each calling service.
    service_credential: SecretStr | None = None
    service_credentials: dict[str, SecretStr] = Field(default_factory=dict)
    #: Where the services reach each other's internal endpoints (keys, disclosure), by service
    #: name, e.g. inside a cluster; a service not named is reached at its public URL.
    internal_urls: dict[str, str] = Field(default_factory=dict)
    #: How long a service keeps a resident's key in memory.
    key_cache_seconds: float = 60.0
    #: Sent outbox rows older than this are deleted (every service, checked every prune period).
    outbox_keep_hours: float = 24.0
    outbox_prune_seconds: float = 600.0
    #: Every service hash-chains its audit log this often (``tsunagu.shared.audit``): an
    #: entry is sealed into the chain within about this long even if nobody searches.
    audit_chain_seconds: float = 30.0
    #: Intake: residents are erased this many days after their last contact (about 5 years).
    retention_days: int = 5 * 365 + 1
    retention_scan_seconds: float = 6 * 3600.0

    consumer_max_attempts: int = 5
    consumer_backoff_seconds: float = 0.2
    relay_batch_size: int = 200
    relay_poll_seconds: float = 1.0
    graceful_timeout_seconds: float = 20.0
    max_body_bytes: int = 256 * 1024
    timezone: str = "Asia/Tokyo"
    #: Tests only: the date a whole-system test stack lives on, whatever the hour (see
    #: ``clock.pin_japan_today``). Refused in prod.
    pinned_date: date | None = None
    extra: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        """``TSUNAGU_<NAME>_FILE`` names a file holding the value (its trailing newline
        dropped), unless the value itself is given."""
        if not isinstance(data, dict):
            return data
        for name in FILE_SETTINGS:
            path = data.pop(f"{name}_file", None) or os.environ.get(f"TSUNAGU_{name.upper()}_FILE")
            if path and data.get(name) is None and not os.environ.get(f"TSUNAGU_{name.upper()}"):
                text = Path(path).read_text(encoding="utf-8").rstrip("\n")
                # A map (the callers' credentials) is a JSON object in its file.
                data[name] = json.loads(text) if name == "service_credentials" else text
        return data

    @model_validator(mode="after")
    def _pinned_date_only_in_tests(self) -> Settings:
        if self.pinned_date is not None and self.env == "prod":
            raise ValueError("TSUNAGU_PINNED_DATE is for tests; not in prod")
        return self

    @model_validator(mode="after")
    def _password_into_url(self) -> Settings:
        if self.database_password is not None:
            from sqlalchemy.engine import make_url

            url = make_url(self.database_url).set(
                password=self.database_password.get_secret_value()
            )
            self.database_url = url.render_as_string(hide_password=False)
        return self

    @property
    def local_mode(self) -> bool:
        return self.env in LOCAL_MODES

    def signing_key(self) -> str:
        """The private key (PEM) that signs staff tokens: intake's alone."""
        if self.auth_private_key is not None:
            return self.auth_private_key.get_secret_value()
        if self.local_mode and self.auth_public_key is None:
            return _ephemeral_keypair()[0]
        raise RuntimeError("TSUNAGU_AUTH_PRIVATE_KEY (or _FILE) must be set for intake")

    def verifying_key(self) -> str:
        """The public key (PEM) every service checks staff tokens with."""
        if self.auth_public_key is not None:
            return self.auth_public_key
        if self.auth_private_key is not None:
            from tsunagu.shared.auth import load_private_key, public_pem

            return public_pem(
                load_private_key(self.auth_private_key.get_secret_value()).public_key()
            )
        if self.local_mode:
            return _ephemeral_keypair()[1]
        raise RuntimeError("TSUNAGU_AUTH_PUBLIC_KEY (or _FILE) must be set")

    def sealing_key(self) -> str:
        """The contact key, for the services that seal or open contact details."""
        if self.contact_key is not None:
            return self.contact_key.get_secret_value()
        if self.local_mode:
            return DEV_CONTACT_KEY
        raise RuntimeError("TSUNAGU_CONTACT_KEY (or _FILE) must be set for this service")

    def kafka_client_options(self) -> dict[str, object]:
        """Connection options for every Kafka client (aiokafka keyword arguments)."""
        options: dict[str, object] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            import ssl

            options["ssl_context"] = ssl.create_default_context(cafile=self.kafka_ssl_cafile)
        if self.kafka_security_protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.kafka_sasl_mechanism or "SCRAM-SHA-512"
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
            )
        return options

    @property
    def port(self) -> int:
        if self.http_port:
            return self.http_port
        from tsunagu.shared.services import registered

        known = registered().get(self.service)
        return 8000 if known is None else known.port

    @property
    def db_schema(self) -> str:
        return self.service

    @property
    def cookie_secure(self) -> bool:
        return self.env == "prod"

    def check_production(self) -> None:
        """Refuse to run outside a local mode with missing, development, example or short
        secrets, or with the token signing key in any service but intake."""
        if self.local_mode:
            return
        from cryptography.fernet import Fernet

        from tsunagu.shared.auth import load_private_key, load_public_key

        if self.auth_private_key is not None:
            if self.service != "intake":
                raise RuntimeError(
                    "TSUNAGU_AUTH_PRIVATE_KEY is intake's alone: give this service the public key"
                )
            load_private_key(self.auth_private_key.get_secret_value())
        elif self.service == "intake":
            raise RuntimeError("TSUNAGU_AUTH_PRIVATE_KEY (or _FILE) must be set for intake")
        load_public_key(self.verifying_key())
        if self.contact_key is not None:
            contact = self.contact_key.get_secret_value()
            refuse_weak_secret("TSUNAGU_CONTACT_KEY", contact)
            if contact == DEV_CONTACT_KEY:
                raise RuntimeError("TSUNAGU_CONTACT_KEY is the development key: set your own")
            try:
                Fernet(contact.encode())
            except ValueError:
                raise RuntimeError("TSUNAGU_CONTACT_KEY is not a Fernet key") from None
        if self.kafka_sasl_password is not None:
            refuse_weak_secret("TSUNAGU_KAFKA_SASL_PASSWORD", self.kafka_sasl_password)
        from sqlalchemy.engine import make_url

        password = make_url(self.database_url).password
        if password is not None:
            refuse_weak_secret("the database password", str(password))

        if self.service == "intake":
            master = self.master_key.get_secret_value()
            if master == DEV_MASTER_KEY:
                raise RuntimeError("TSUNAGU_MASTER_KEY is the development key: set your own")
            refuse_weak_secret("TSUNAGU_MASTER_KEY", master)
        if self.service_credential is None and self.service in CALLERS:
            raise RuntimeError("TSUNAGU_SERVICE_CREDENTIAL must be set in prod")
        if self.service_credential is not None:
            refuse_weak_secret("TSUNAGU_SERVICE_CREDENTIAL", self.service_credential)
        for caller, credential in self.service_credentials.items():
            refuse_weak_secret(f"TSUNAGU_SERVICE_CREDENTIALS[{caller}]", credential)

    def own_credential(self) -> str:
        """The credential this service presents to the others' internal endpoints."""
        if self.service_credential is not None:
            return self.service_credential.get_secret_value()
        if self.env == "prod":
            raise RuntimeError("TSUNAGU_SERVICE_CREDENTIAL must be set in prod")
        return dev_service_credential(self.service)

    def credential_of(self, service: str) -> str | None:
        """The credential expected of ``service``; None if it may not call here."""
        configured = self.service_credentials.get(service)
        if configured is not None:
            return configured.get_secret_value()
        if self.env == "prod":
            return None
        return dev_service_credential(service)

    def internal_base(self, service: str) -> str:
        public = {
            "intake": self.intake_url,
            "routing": self.routing_url,
            "notify": self.notify_url,
            "food_distribution": self.food_url,
        }
        return (self.internal_urls.get(service) or public[service]).rstrip("/")

    @property
    def intake_base(self) -> str:
        return self.internal_base("intake")


def refuse_weak_secret(name: str, value: SecretStr | str) -> None:
    """A secret that is short or an example file's placeholder stops the service."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if len(text) < MIN_SECRET_LENGTH:
        raise RuntimeError(f"{name} is shorter than {MIN_SECRET_LENGTH} characters")
    lowered = text.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        raise RuntimeError(f"{name} is an example placeholder: set a real secret")
