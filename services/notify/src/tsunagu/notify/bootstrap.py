"""The composition root: notify's runtime (consumers, sender, dev mail catcher) and its app.

Started by ``python -m tsunagu.shared.cli serve notify``. Tests build the runtime with
``build_runtime(settings, clock, config=...)`` and start it themselves, or hand it to
``build_app``.
"""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from tsunagu.notify import asyncapi
from tsunagu.notify.adapters.channels import (
    LetterChannel,
    PhoneCallChannel,
    SmsHttpChannel,
    SmtpChannel,
    WebhookChannel,
)
from tsunagu.notify.adapters.dev_mail import DevMailCatcher
from tsunagu.notify.adapters.dev_sms import DevSmsSink
from tsunagu.notify.adapters.orm import tables
from tsunagu.notify.config import Clock, NotifyConfig
from tsunagu.notify.entrypoints import consumers
from tsunagu.notify.entrypoints.http import create_dev_router, create_router
from tsunagu.notify.entrypoints.pages import create_pages, dev_pages
from tsunagu.notify.entrypoints.worker import SenderWorker
from tsunagu.notify.service_layer import privacy
from tsunagu.notify.service_layer.handoff import Handoff
from tsunagu.notify.service_layer.recipients import AddressBook
from tsunagu.notify.service_layer.scheduling import Notify, due_channel
from tsunagu.notify.service_layer.sender import ChannelSet, Sender
from tsunagu.shared.audit import AuditChainer
from tsunagu.shared.clock import service_clock
from tsunagu.shared.crypto import ContactSealer, Sealer
from tsunagu.shared.http import create_app
from tsunagu.shared.internal import IntakeKeys, audit_router, disclosure_router
from tsunagu.shared.logs import get_logger
from tsunagu.shared.runtime import ServiceRuntime
from tsunagu.shared.settings import Settings
from tsunagu.shared.wakeup import Listener

log = get_logger(__name__)


class NotifyRuntime(ServiceRuntime):
    """The shared runtime plus notify's own parts: handlers, the sender, the mail catcher."""

    def __init__(self, settings: Settings, config: NotifyConfig, clock: Clock) -> None:
        super().__init__(settings, tables)
        self.config = config
        self.clock = clock
        # Residents' values are opened with their own keys, fetched from intake (ADR 12); the
        # shared contact key seals imported invitation lists, which belong to no resident.
        self.invitation_sealer = ContactSealer(settings.sealing_key())
        self.keys = IntakeKeys(settings)
        self.background.append(self.keys)
        # Letter and call-list views are hash-chained within a period even if nobody searches.
        self.audit_chainer = AuditChainer(
            self.sessions, tables.audit_log, settings.audit_chain_seconds
        )
        self.background.append(self.audit_chainer)
        self.sealer = Sealer(self.keys, legacy=self.invitation_sealer)
        # Deliveries due now go from the planning transaction to the sender below (ADR 27).
        self.handoff = Handoff()
        self.notify = Notify(
            tables=tables,
            outbox=self.outbox,
            clock=clock,
            config=config,
            staff_url=config.staff_url or settings.intake_url,
            handoff=self.handoff,
        )
        self.consumers = consumers.register(self, self.notify, consumer=config.consumer_name)

        smtp_host = config.smtp_host
        self.mail_catcher: DevMailCatcher | None = None
        if smtp_host is None and settings.env == "dev" and config.dev_mail_catcher:
            self.mail_catcher = DevMailCatcher(
                self.sessions, tables.dev_mail, port=config.smtp_port
            )
            self.background.append(self.mail_catcher)
            smtp_host = self.mail_catcher.host
        if smtp_host is None:
            log.warning("smtp_not_configured")  # email deliveries fail: email_not_configured

        sms: tuple[str, str] | None = None
        self.sms_sink: DevSmsSink | None = None
        if config.sms_endpoint is None and settings.env == "dev" and config.dev_sms_sink:
            self.sms_sink = DevSmsSink(self.sessions, tables.dev_sms, port=config.dev_sms_port)
            self.background.append(self.sms_sink)
            sms = (self.sms_sink.endpoint, self.sms_sink.api_key)

        self.sender = Sender(
            tables=tables,
            sessions=self.sessions,
            outbox=self.outbox,
            channels=build_channels(config, smtp_host, clock, sms),
            addresses=AddressBook(config),
            sealer=self.sealer,
            clock=clock,
            policy=config.retry_policy(),
            lease=config.lease,
            batch_size=config.batch_size,
        )
        self.worker = SenderWorker(
            self.sender,
            listener=Listener(settings.database_url, due_channel(tables.metadata.schema)),
            poll_seconds=config.poll_seconds,
            handoff=self.handoff,
        )
        self.background.append(self.worker)


def build_channels(
    config: NotifyConfig,
    smtp_host: str | None,
    clock: Clock,
    dev_sms: tuple[str, str] | None = None,
) -> ChannelSet:
    """The channel adapters; ``dev_sms`` (endpoint, key) stands in for an unset SMS provider."""
    email = None
    if smtp_host:
        email = SmtpChannel(
            host=smtp_host,
            port=config.smtp_port,
            from_address=config.smtp_from,
            username=config.smtp_username,
            password=config.smtp_password.get_secret_value() if config.smtp_password else None,
            starttls=config.smtp_starttls,
            timeout=config.smtp_timeout_seconds,
            connections=config.smtp_connections,
            clock=clock,
        )
    sms = None
    if config.sms_endpoint:
        sms = SmsHttpChannel(
            endpoint=config.sms_endpoint,
            api_key=config.sms_api_key.get_secret_value() if config.sms_api_key else "",
            timeout=config.sms_timeout_seconds,
        )
    elif dev_sms is not None:
        sms = SmsHttpChannel(
            endpoint=dev_sms[0], api_key=dev_sms[1], timeout=config.sms_timeout_seconds
        )
    webhook = None
    if config.webhooks:
        webhook = WebhookChannel(config.webhooks, timeout=config.webhook_timeout_seconds)
    return ChannelSet(
        email=email,
        sms=sms,
        webhook=webhook,
        letter=LetterChannel(sender_lines=config.sender_lines(), clock=clock),
        phone=PhoneCallChannel(),
    )


def build_runtime(
    settings: Settings, clock: Clock | None = None, *, config: NotifyConfig | None = None
) -> NotifyRuntime:
    """``config`` defaults to the ``TSUNAGU_NOTIFY_*`` environment; ``clock`` to real time,
    moved by ``config.clock_offset_seconds`` (refused in prod)."""
    config = config or NotifyConfig()
    moved = service_clock(
        config.clock_offset_seconds,
        env=settings.env,
        setting="TSUNAGU_NOTIFY_CLOCK_OFFSET_SECONDS",
    )
    return NotifyRuntime(settings, config, clock or moved)


def build_app(settings: Settings, runtime: NotifyRuntime | None = None) -> FastAPI:
    runtime = runtime or build_runtime(settings)
    app = create_app(
        title="Tsunagu notify",
        service=settings.service,
        login_url=f"{settings.intake_url}/login",
        readiness=runtime.readiness(),
        lifespan=runtime.lifespan,
        # The invitation list is the one large upload; every other body stays small.
        max_body_bytes=max(settings.max_body_bytes, runtime.config.max_upload_bytes),
        asyncapi=asyncapi.document,
    )
    authenticator = runtime.authenticator()
    app.include_router(create_router(runtime, authenticator))
    app.include_router(create_pages(runtime, authenticator))
    app.include_router(
        disclosure_router(
            settings, runtime.sessions, privacy.disclose, partial(privacy.reveal, runtime.sealer)
        )
    )
    app.include_router(audit_router(settings, runtime.sessions, tables.audit_log))
    if settings.env in ("dev", "test"):  # absent in prod: 404
        app.include_router(create_dev_router(runtime, authenticator))
        app.include_router(dev_pages(runtime, authenticator))
    app.state.runtime = runtime
    return app
