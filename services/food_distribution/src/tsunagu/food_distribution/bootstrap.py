"""The composition root: the runtime (database, Kafka, outbox relay) and the HTTP app.

``python -m tsunagu.shared.cli serve food_distribution`` calls ``build_app(settings)``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tsunagu.food_distribution import asyncapi
from tsunagu.food_distribution.adapters.orm import tables
from tsunagu.food_distribution.config import FoodConfig
from tsunagu.food_distribution.entrypoints import consumers, desk, http
from tsunagu.food_distribution.service_layer import privacy
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.shared.audit import AuditChainer
from tsunagu.shared.change_feed import ChangeFeed
from tsunagu.shared.crypto import ContactSealer, KeySource, Sealer
from tsunagu.shared.http import create_app
from tsunagu.shared.internal import IntakeKeys, audit_router, disclosure_router
from tsunagu.shared.runtime import ServiceRuntime
from tsunagu.shared.settings import Settings


def build_deps(
    runtime: ServiceRuntime, config: FoodConfig | None = None, keys: KeySource | None = None
) -> Deps:
    """``keys``: where residents' keys come from; intake's key endpoint unless given (ADR 12)."""
    keys = keys or getattr(runtime, "food_keys", None)
    if keys is None:
        # The furigana is opened with the resident's ``kana`` key from intake.
        intake_keys = IntakeKeys(runtime.settings)
        runtime.background.append(intake_keys)
        keys = intake_keys
    runtime.food_keys = keys  # type: ignore[attr-defined]
    return Deps(
        outbox=runtime.outbox,
        config=config or FoodConfig(),
        sealer=Sealer(keys, legacy=ContactSealer(runtime.settings.sealing_key())),
    )


def build_runtime(
    settings: Settings, config: FoodConfig | None = None, keys: KeySource | None = None
) -> ServiceRuntime:
    """The service's runtime with its consumers registered; ``start()`` runs them."""
    runtime = ServiceRuntime(settings, tables)
    consumers.register(runtime, build_deps(runtime, config, keys))
    # The desk's views are hash-chained within a period even if nobody searches the audit.
    runtime.background.append(
        AuditChainer(runtime.sessions, tables.audit_log, settings.audit_chain_seconds)
    )
    # The desk's pushed stock: one LISTEN per process, shared by every open desk.
    runtime.stock_feed = ChangeFeed(  # type: ignore[attr-defined]
        settings.database_url, stock_channel(settings.db_schema)
    )
    runtime.background.append(runtime.stock_feed)  # type: ignore[attr-defined]
    return runtime


def stock_channel(schema: str | None) -> str:
    """Where a change to an event's stock is notified (migration 0008)."""
    return f"tsunagu_stock_{schema or 'public'}"


def build_app(
    settings: Settings,
    *,
    runtime: ServiceRuntime | None = None,
    config: FoodConfig | None = None,
    keys: KeySource | None = None,
) -> FastAPI:
    config = config or FoodConfig()
    runtime = runtime or build_runtime(settings, config, keys)
    deps = build_deps(runtime, config, keys)
    auth = runtime.authenticator()
    app = create_app(
        title="Tsunagu 食料品配布 (food distribution)",
        service=settings.service,
        login_url=settings.intake_url.rstrip("/") + "/login",
        readiness=runtime.readiness(),
        lifespan=runtime.lifespan,
        max_body_bytes=settings.max_body_bytes,
        asyncapi=asyncapi.document,
    )
    app.state.runtime = runtime
    app.state.deps = deps
    http.install_error_handler(app)
    desk.install_error_pages(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(http.api_router(runtime.sessions, deps, auth))
    app.include_router(
        desk.desk_router(
            runtime.sessions,
            deps,
            auth,
            stock_feed=getattr(runtime, "stock_feed", None),
            revocations=runtime.revocations,
            session_seconds=settings.session_idle_seconds,
        )
    )
    app.include_router(
        disclosure_router(
            settings, runtime.sessions, privacy.disclose, partial(privacy.reveal, deps.sealer)
        )
    )
    app.include_router(audit_router(settings, runtime.sessions, tables.audit_log))
    return app
