"""Sealing residents' personal data with a key of their own (envelope encryption, ADR 12).

Every resident has one random data key, kept by intake wrapped with a master key. Nothing is
sealed with the data key itself: each purpose has a key derived from it (HKDF), so a service
that is given one purpose's key (notify: ``contact``, food: ``kana``) can open that and nothing
else. A sealed value names its resident and purpose, so any holder of the right key can open it:

    rk1:<resident_id>:<purpose>:<Fernet token>

Destroying the resident's data key makes every copy unreadable at once, wherever it is: in
Kafka's immutable log, a dead-letter topic, an outbox row or another service's table
(crypto-shredding).

``ContactSealer`` is the older single shared key; it still opens what was sealed with it and
seals what belongs to no resident (notify's imported invitation lists).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "rk1"


class Purpose(StrEnum):
    """What a derived key seals, and so who may hold it."""

    CONTACT = "contact"  # name, furigana, phone, email, address: notify, to reach the resident
    KANA = "kana"  # the furigana alone: the food desk, to find the household
    RECORD = "record"  # free text of the case (reasons, outcomes): intake alone


class ContactSealError(Exception):
    """A sealed value could not be opened (wrong key or tampered)."""


class KeyDestroyed(ContactSealError):
    """The resident's data key was destroyed: what was sealed with it is erased."""


# --- keys ----------------------------------------------------------------------------------


def new_data_key() -> bytes:
    return Fernet.generate_key()


def new_key() -> str:
    """A new master or contact key (a Fernet key, URL-safe base64)."""
    return Fernet.generate_key().decode()


def purpose_key(data_key: bytes, purpose: Purpose | str) -> bytes:
    """The Fernet key for one purpose, derived from a resident's data key."""
    raw = base64.urlsafe_b64decode(data_key)
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"tsunagu:{purpose}".encode()
    ).derive(raw)
    return base64.urlsafe_b64encode(derived)


class MasterKeys:
    """Wraps and unwraps data keys. The current key wraps; older ones, by id, still unwrap, so
    the master key can be rotated (and a KMS can take this class's place)."""

    def __init__(self, current_id: str, current: str, older: dict[str, str] | None = None) -> None:
        self.current_id = current_id
        self._keys = {k: Fernet(v.encode()) for k, v in (older or {}).items()}
        self._keys[current_id] = Fernet(current.encode())

    def wrap(self, data_key: bytes) -> tuple[str, str]:
        return self.current_id, self._keys[self.current_id].encrypt(data_key).decode()

    def unwrap(self, key_id: str, wrapped: str) -> bytes:
        fernet = self._keys.get(key_id)
        if fernet is None:
            raise ContactSealError(f"unknown master key id {key_id}")
        try:
            return fernet.decrypt(wrapped.encode())
        except InvalidToken as exc:
            raise ContactSealError("cannot unwrap a data key") from exc


# --- sealed values -------------------------------------------------------------------------


def is_resident_sealed(token: str | None) -> bool:
    return bool(token) and str(token).startswith(PREFIX + ":")


def parse_token(token: str) -> tuple[str, str, str]:
    """(resident_id, purpose, Fernet token) of a resident-sealed value."""
    parts = token.split(":", 3)
    if len(parts) != 4 or parts[0] != PREFIX:
        raise ContactSealError("not a resident-sealed value")
    return parts[1], parts[2], parts[3]


def resident_of(token: str | None) -> str | None:
    if not token or not is_resident_sealed(token):
        return None
    return parse_token(token)[0]


def seal_with(key: bytes, resident_id: str, purpose: Purpose | str, value: Any) -> str:
    """Seal ``value`` (anything JSON) with a purpose key of ``resident_id``."""
    body = Fernet(key).encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()
    return f"{PREFIX}:{resident_id}:{purpose}:{body}"


def open_with(key: bytes, token: str) -> Any:
    try:
        return json.loads(Fernet(key).decrypt(parse_token(token)[2].encode()))
    except (InvalidToken, ValueError) as exc:
        raise ContactSealError("cannot open a sealed value") from exc


class KeySource(Protocol):
    """Where a service gets a resident's purpose key; None once the key is destroyed."""

    async def purpose_key(self, resident_id: str, purpose: Purpose | str) -> bytes | None: ...


class Sealer:
    """Opens and seals residents' values through a ``KeySource``; falls back to the shared
    contact key for values sealed with it (older events, invitation lists)."""

    def __init__(self, keys: KeySource | None, legacy: ContactSealer | None = None) -> None:
        self.keys = keys
        self.legacy = legacy

    async def _key(self, resident_id: str, purpose: str) -> bytes:
        if self.keys is None:
            raise ContactSealError("no key source for resident-sealed values")
        key = await self.keys.purpose_key(resident_id, purpose)
        if key is None:
            raise KeyDestroyed(resident_id)
        return key

    async def open(self, token: str) -> Any:
        if not is_resident_sealed(token):
            if self.legacy is None:
                raise ContactSealError("not a resident-sealed value")
            return self.legacy.open(token)
        resident_id, purpose, _ = parse_token(token)
        return open_with(await self._key(resident_id, purpose), token)

    async def seal(self, resident_id: str, purpose: Purpose | str, value: Any) -> str:
        return seal_with(await self._key(resident_id, str(purpose)), resident_id, purpose, value)

    async def prefetch(self, tokens: Iterable[str | None]) -> None:
        """Fetch the keys of these sealed values ahead, in as few requests as the key source
        allows (one per purpose for ``CachedKeys`` with a ``fetch_many``), so that opening
        them afterwards is a cache hit. Best effort: a key not fetched here is fetched when
        its value is opened, and any failure is met there."""
        prefetch = getattr(self.keys, "prefetch", None)
        if prefetch is None:
            return
        wanted: dict[str, set[str]] = {}
        for token in tokens:
            if token and is_resident_sealed(token):
                resident_id, purpose, _ = parse_token(token)
                wanted.setdefault(purpose, set()).add(resident_id)
        for purpose, residents in sorted(wanted.items()):
            await prefetch(sorted(residents), purpose)

    async def seal_like(self, token: str | None, value: Any) -> str:
        """Seal ``value`` for the same resident and purpose as ``token`` (e.g. a letter made
        from a resident's contact details); the shared contact key where ``token`` used it."""
        if token and is_resident_sealed(token):
            resident_id, purpose, _ = parse_token(token)
            return await self.seal(resident_id, purpose, value)
        if self.legacy is None:
            raise ContactSealError("no key to seal with")
        return self.legacy.seal(value)


#: Several residents' keys of one purpose in one request: {resident_id: key}, the erased left out.
FetchMany = Callable[[list[str], str], Awaitable[dict[str, bytes]]]


class CachedKeys:
    """A short-lived in-process cache in front of a key fetcher (ADR 12): a destroyed key is
    forgotten at once by ``forget``, and at the latest after ``ttl_seconds`` elsewhere."""

    def __init__(
        self,
        fetch: Callable[[str, str], Awaitable[bytes | None]],
        ttl_seconds: float = 60.0,
        max_entries: int = 10_000,
        fetch_many: FetchMany | None = None,
    ) -> None:
        """``fetch_many(resident_ids, purpose)`` answers several residents in one request
        (``prefetch``); a resident it leaves out has no key (erased or unknown)."""
        self._fetch = fetch
        self._fetch_many = fetch_many
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._cache: dict[tuple[str, str], tuple[float, bytes | None]] = {}
        self._lock = asyncio.Lock()

    async def purpose_key(self, resident_id: str, purpose: Purpose | str) -> bytes | None:
        entry = (resident_id, str(purpose))
        now = time.monotonic()
        cached = self._cache.get(entry)
        if cached is not None and cached[0] > now:
            return cached[1]
        key = await self._fetch(resident_id, str(purpose))
        self._keep({entry: key}, now)
        return key

    async def prefetch(self, resident_ids: Iterable[str], purpose: Purpose | str) -> None:
        """Fetch the keys not in the cache in one request (nothing without a ``fetch_many``);
        the next ``purpose_key`` of these residents is a cache hit."""
        if self._fetch_many is None:
            return
        now = time.monotonic()
        missing = []
        for resident_id in dict.fromkeys(resident_ids):
            cached = self._cache.get((resident_id, str(purpose)))
            if cached is None or cached[0] <= now:
                missing.append(resident_id)
        if not missing:
            return
        found = await self._fetch_many(missing, str(purpose))
        self._keep({(r, str(purpose)): found.get(r) for r in missing}, now)

    def _keep(self, keys: dict[tuple[str, str], bytes | None], now: float) -> None:
        if len(self._cache) + len(keys) > self.max_entries:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) + len(keys) > self.max_entries:
                self._cache.clear()
        for entry, key in keys.items():
            self._cache[entry] = (now + self.ttl_seconds, key)

    def forget(self, resident_id: str) -> None:
        for entry in [e for e in self._cache if e[0] == resident_id]:
            self._cache.pop(entry, None)


class LocalKeys:
    """Data keys held in this process: for a service's own tests and tools, where intake's key
    store is not running. Same derivation and format as the real thing."""

    def __init__(self) -> None:
        self.data_keys: dict[str, bytes] = {}

    def seal(self, resident_id: str, purpose: Purpose | str, value: Any) -> str:
        key = self.data_keys.setdefault(resident_id, new_data_key())
        return seal_with(purpose_key(key, purpose), resident_id, purpose, value)

    def destroy(self, resident_id: str) -> None:
        self.data_keys.pop(resident_id, None)

    async def purpose_key(self, resident_id: str, purpose: Purpose | str) -> bytes | None:
        key = self.data_keys.get(resident_id)
        return None if key is None else purpose_key(key, purpose)


class ContactSealer:
    """The shared contact key (Fernet): values that belong to no resident's key."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()

    def open(self, token: str) -> Any:
        try:
            opened = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise ContactSealError("cannot open sealed contact details") from exc
        return opened
