"""The services' own database roles on a local server (ADR 6): one per service, granted only
its schema, each with a fresh password; the owner keeps running migrations and demo data."""

from __future__ import annotations

import secrets

from tsunagu.devstack.processes import SERVICES
from tsunagu.shared.db_roles import ensure_role, grant, service_role, url_as


async def create_service_roles(database_url: str) -> dict[str, str]:
    """Create (or re-password) ``tsunagu_<service>`` for every service; returns their URLs."""
    urls = {}
    for service in SERVICES:
        role, password = service_role(service), secrets.token_urlsafe(24)
        await ensure_role(database_url, role, password)
        urls[service] = url_as(database_url, role, password)
    return urls


async def grant_service_roles(database_url: str) -> None:
    """After the migrations: each role gets its own schema (``tsunagu migrate`` does the same)."""
    for service in SERVICES:
        await grant(database_url, service)
