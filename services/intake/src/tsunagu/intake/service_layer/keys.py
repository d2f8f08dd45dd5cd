"""Intake's key store: one data key per resident, wrapped by the master key (ADR 12).

Intake seals with the keys directly, inside the caller's transaction (a new resident's key is
created with the resident). Other services get one purpose's key of a resident through
``GET /internal/v1/keys/{resident_id}/{purpose}``, and only the purposes they are allowed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.crypto import (
    ContactSealError,
    KeyDestroyed,
    MasterKeys,
    Purpose,
    is_resident_sealed,
    new_data_key,
    open_with,
    parse_token,
    purpose_key,
    seal_with,
)
from tsunagu.shared.settings import Settings

#: Which purpose keys each service may fetch: notify reaches residents; the food desk shows
#: the furigana. Routing holds no personal data and gets none.
ALLOWED_PURPOSES: dict[str, frozenset[Purpose]] = {
    "notify": frozenset({Purpose.CONTACT}),
    "food_distribution": frozenset({Purpose.KANA}),
}


def master_keys(settings: Settings) -> MasterKeys:
    return MasterKeys(
        settings.master_key_id,
        settings.master_key.get_secret_value(),
        {k: v.get_secret_value() for k, v in settings.master_keys_older.items()},
    )


class KeyStore:
    def __init__(self, master: MasterKeys) -> None:
        self.master = master

    async def data_key(
        self, session: AsyncSession, resident_id: str, *, create: bool = False
    ) -> bytes | None:
        """The resident's data key (created if ``create``). Kept for the rest of the
        transaction, so a case that seals several fields reads it once."""
        held = _held(session)
        if resident_id in held:
            return held[resident_id]
        t = tables.resident_key
        row = (
            await session.execute(
                select(t.c.key_id, t.c.wrapped_key).where(t.c.resident_id == resident_id)
            )
        ).first()
        if row is not None:
            held[resident_id] = self.master.unwrap(row.key_id, row.wrapped_key)
            return held[resident_id]
        if not create:
            return None
        return await self.create(session, resident_id)

    async def create(self, session: AsyncSession, resident_id: str) -> bytes:
        """A data key for a resident who has none yet (e.g. just taken in, so no read is
        needed first): one statement; the key already there if there is one after all."""
        t = tables.resident_key
        key = new_data_key()
        key_id, wrapped = self.master.wrap(key)
        made = await session.execute(
            insert(t)
            .values(resident_id=resident_id, key_id=key_id, wrapped_key=wrapped)
            .on_conflict_do_nothing()
            .returning(t.c.resident_id)
        )
        if made.first() is None:  # another transaction created it meanwhile
            _held(session).pop(resident_id, None)
            found = await self.data_key(session, resident_id)
            assert found is not None
            return found
        _held(session)[resident_id] = key
        return key

    def new_row(self, session: AsyncSession, resident_id: str) -> dict[str, Any]:
        """A data key for a resident made in this very transaction (so none can exist yet):
        the row for the caller to insert with its own statements, the key held for the
        transaction like one read."""
        key = new_data_key()
        key_id, wrapped = self.master.wrap(key)
        _held(session)[resident_id] = key
        return {"resident_id": resident_id, "key_id": key_id, "wrapped_key": wrapped}

    async def purpose_key(
        self, session: AsyncSession, resident_id: str, purpose: Purpose
    ) -> bytes | None:
        key = await self.data_key(session, resident_id)
        return None if key is None else purpose_key(key, purpose)

    async def purpose_keys(
        self, session: AsyncSession, resident_ids: list[str], purpose: Purpose
    ) -> dict[str, bytes]:
        """Several residents' purpose keys in one query; the residents without a data key
        (erased, unknown) are left out."""
        held = _held(session)
        wanted = [r for r in dict.fromkeys(resident_ids) if r not in held]
        if wanted:
            t = tables.resident_key
            rows = await session.execute(
                select(t.c.resident_id, t.c.key_id, t.c.wrapped_key).where(
                    t.c.resident_id.in_(wanted)
                )
            )
            for row in rows:
                held[row.resident_id] = self.master.unwrap(row.key_id, row.wrapped_key)
        return {r: purpose_key(held[r], purpose) for r in dict.fromkeys(resident_ids) if r in held}

    async def seal(
        self, session: AsyncSession, resident_id: str, purpose: Purpose, value: Any
    ) -> str:
        key = await self.data_key(session, resident_id, create=True)
        assert key is not None
        return seal_with(purpose_key(key, purpose), resident_id, purpose, value)

    async def open(self, session: AsyncSession, token: str) -> Any:
        if not is_resident_sealed(token):
            raise ContactSealError("not a resident-sealed value")
        resident_id, purpose, _ = parse_token(token)
        key = await self.purpose_key(session, resident_id, Purpose(purpose))
        if key is None:
            raise KeyDestroyed(resident_id)
        return open_with(key, token)

    async def destroy(self, session: AsyncSession, resident_id: str) -> bool:
        _held(session).pop(resident_id, None)
        t = tables.resident_key
        done = await session.execute(
            delete(t).where(t.c.resident_id == resident_id).returning(t.c.resident_id)
        )
        return done.first() is not None


_HELD = "tsunagu_resident_keys"  # session.info key: (the transaction, its residents' data keys)


def _held(session: AsyncSession) -> dict[str, bytes]:
    """Data keys read in the session's current transaction (forgotten with it)."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return {}  # not in a transaction yet: nothing to keep it with
    held: tuple[object, dict[str, bytes]] | None = session.info.get(_HELD)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_HELD] = held
    return held[1]
