"""Ended staff sign-ins, as every service knows them (ADR 16).

Intake owns staff accounts. When a sign-in ends (logout) or all of a person's sign-ins must end
(deactivated, roles or password changed), intake records it in its own schema and publishes
``staff_sessions_revoked`` on ``intake.staff.v1``; every other service keeps the same two small
tables from those events. ``RevocationCache`` reads them again at most every few seconds, so a
token is refused everywhere within seconds, without a call to intake on any request.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.shared.auth import Principal
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.intake import STAFF_SESSIONS_REVOKED, StaffSessionsRevoked
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

#: How old the cached view may be before a request reads it again.
REFRESH_SECONDS = 2.0
#: With no fresh view for this long (database unreachable), tokens are refused (503).
STALE_SECONDS = 30.0
#: After a failed read, requests use the view they have (or are refused) for this long before
#: one of them tries the database again: an outage is not met with a connection per request.
RETRY_SECONDS = 1.0
#: While the database stays unreachable, one warning at most this often.
LOG_EVERY_SECONDS = 60.0


def revoked_session_table(metadata: MetaData) -> Table:
    """Sign-ins ended one by one (logout), until their last token expires."""
    return Table(
        "revoked_session",
        metadata,
        Column("session_id", String(64), primary_key=True),
        Column("username", String(64), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
    )


def staff_token_version_table(metadata: MetaData) -> Table:
    """Per staff member: tokens issued with a lower version are refused."""
    return Table(
        "staff_token_version",
        metadata,
        Column("username", String(64), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def record(
    session: AsyncSession, revoked_session: Table, versions: Table, data: StaffSessionsRevoked
) -> None:
    """Store one revocation (idempotent; a version only ever goes up)."""
    if data.session_id is not None:
        await session.execute(
            insert(revoked_session)
            .values(session_id=data.session_id, username=data.username, expires_at=data.expires_at)
            .on_conflict_do_nothing()
        )
        # Sessions whose tokens have all expired need no record any more.
        await session.execute(
            delete(revoked_session).where(
                revoked_session.c.expires_at < datetime.now(UTC) - timedelta(minutes=5)
            )
        )
    if data.version is not None:
        stmt = insert(versions).values(username=data.username, version=data.version)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[versions.c.username],
                set_={"version": func.greatest(versions.c.version, stmt.excluded.version)},
            )
        )


def handlers(
    revoked_session: Table, versions: Table
) -> dict[str, Callable[[AsyncSession, Envelope], Awaitable[None]]]:
    """The consumer of ``intake.staff.v1`` in routing, notify and food distribution."""

    async def on_revoked(session: AsyncSession, envelope: Envelope) -> None:
        await record(session, revoked_session, versions, parse(envelope, StaffSessionsRevoked))

    return {STAFF_SESSIONS_REVOKED: on_revoked}


class RevocationCache:
    """The service's view of ended sign-ins, read from its own schema every few seconds."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        revoked_session: Table,
        versions: Table,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        stale_seconds: float = STALE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        log_every_seconds: float = LOG_EVERY_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._revoked_session = revoked_session
        self._versions_table = versions
        self.refresh_seconds = refresh_seconds
        self.stale_seconds = stale_seconds
        self.retry_seconds = retry_seconds
        self.log_every_seconds = log_every_seconds
        #: When the database was first found unreachable, the last try and the last warning.
        self._failing_since: float | None = None
        self._tried_at = -math.inf
        self._logged_at = -math.inf
        self._failures = 0
        self._ended: set[str] = set()
        self._versions: dict[str, int] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def revoked(self, principal: Principal) -> bool:
        await self._fresh()
        if principal.session_id in self._ended:
            return True
        return principal.version < self._versions.get(principal.username, 0)

    def remember(self, data: StaffSessionsRevoked) -> None:
        """Take a revocation this process has just committed into account at once."""
        if data.session_id is not None:
            self._ended.add(data.session_id)
        if data.version is not None:
            self._versions[data.username] = max(data.version, self._versions.get(data.username, 0))

    async def _fresh(self) -> None:
        if self._current():
            return
        async with self._lock:
            if self._current():
                return
            now = time.monotonic()
            if self._failing_since is None or now - self._tried_at >= self.retry_seconds:
                self._tried_at = now
                try:
                    await self._load()
                except Exception as exc:
                    self._failed(exc, now)
                else:
                    self._recovered(now)
                    return
            if self._loaded_at is None or now - self._loaded_at > self.stale_seconds:
                # Without knowing which sign-ins ended, no token can be trusted.
                raise HTTPException(503, "一時的に利用できません (sign-in check unavailable)")

    def _current(self) -> bool:
        return (
            self._loaded_at is not None
            and time.monotonic() - self._loaded_at < self.refresh_seconds
        )

    def _failed(self, exc: Exception, now: float) -> None:
        """Count a failed read; warn on the first and then at most once a minute."""
        if self._failing_since is None:
            self._failing_since = now
            self._failures = 0
        self._failures += 1
        if now - self._logged_at >= self.log_every_seconds:
            self._logged_at = now
            log.warning(
                "revocations_not_read",
                error=type(exc).__name__,
                failing_seconds=round(now - self._failing_since, 1),
                tries=self._failures,
            )

    def _recovered(self, now: float) -> None:
        if self._failing_since is None:
            return
        log.info(
            "revocations_read_again",
            failing_seconds=round(now - self._failing_since, 1),
            tries=self._failures,
        )
        self._failing_since = None
        self._logged_at = -math.inf

    async def _load(self) -> None:
        s, v = self._revoked_session, self._versions_table
        async with self._sessions() as session:
            ended = await session.execute(select(s.c.session_id).where(s.c.expires_at > func.now()))
            versions = await session.execute(select(v.c.username, v.c.version))
            self._ended = {row.session_id for row in ended}
            self._versions = {row.username: row.version for row in versions}
        self._loaded_at = time.monotonic()


def create_revocation_tables(schema: str) -> None:
    """The migration step that creates the two tables above in ``schema`` (each consuming
    service's own copy of the ended sign-ins)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "revoked_session",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_revoked_session"),
        schema=schema,
    )
    op.create_table(
        "staff_token_version",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("username", name="pk_staff_token_version"),
        schema=schema,
    )


def drop_revocation_tables(schema: str) -> None:
    from alembic import op

    op.drop_table("staff_token_version", schema=schema)
    op.drop_table("revoked_session", schema=schema)
