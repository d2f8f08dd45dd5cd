"""Settings shared by every service, read from ``TSUNAGU_`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Development-only defaults. ``Settings.check_production`` refuses them outside dev/test.
DEV_AUTH_SECRET = "dev-only-auth-secret-change-me-0123456789abcdef"  # noqa: S105
DEV_CONTACT_KEY = "ZGV2LW9ubHktY29udGFjdC1rZXktY2hhbmdlLW1lISE="
DEV_MASTER_KEY = "ZGV2LW9ubHktbWFzdGVyLWtleS1jaGFuZ2UtbWUhISE="
DEV_SERVICE_CREDENTIAL = "dev-only-service-credential-"


#: The services that call others' internal endpoints, and so need a credential of their own.
CALLERS = ("intake", "notify", "food_distribution")


def dev_service_credential(service: str) -> str:
    """A service's credential outside prod, when none is configured."""
    return DEV_SERVICE_CREDENTIAL + service


class Settings(BaseSettings):
    """Every ``TSUNAGU_`` variable that all services understand (see deploy/README.md)."""

    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", extra="ignore")

    service: str = "tsunagu"
    env: Literal["dev", "test", "prod"] = "dev"
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
    db_pool_size: int = 20

    http_host: str = "127.0.0.1"
    http_port: int | None = None
    #: Public base URLs, used for links between the staff pages of the services.
    intake_url: str = "http://127.0.0.1:8000"
    routing_url: str = "http://127.0.0.1:8001"
    notify_url: str = "http://127.0.0.1:8002"
    food_url: str = "http://127.0.0.1:8003"

    auth_secret: SecretStr = SecretStr(DEV_AUTH_SECRET)
    token_ttl_seconds: int = 8 * 3600
    session_idle_seconds: int = 30 * 60
    #: Fernet key that seals residents' contact details on the bus.
    contact_key: SecretStr = SecretStr(DEV_CONTACT_KEY)
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
    extra: dict[str, str] = Field(default_factory=dict)

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
        """Refuse to run in prod with the development secrets."""
        if self.env != "prod":
            return
        if self.auth_secret.get_secret_value() == DEV_AUTH_SECRET:
            raise RuntimeError("TSUNAGU_AUTH_SECRET must be set in prod")
        if self.contact_key.get_secret_value() == DEV_CONTACT_KEY:
            raise RuntimeError("TSUNAGU_CONTACT_KEY must be set in prod")
        if self.service == "intake" and self.master_key.get_secret_value() == DEV_MASTER_KEY:
            raise RuntimeError("TSUNAGU_MASTER_KEY must be set in prod")
        if self.service_credential is None and self.service in CALLERS:
            raise RuntimeError("TSUNAGU_SERVICE_CREDENTIAL must be set in prod")

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
