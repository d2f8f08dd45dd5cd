"""Per-resident sealing (ADR 12): purpose keys, wrapping, destruction, the service gate."""

from __future__ import annotations

import json

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tsunagu.shared.crypto import (
    CachedKeys,
    ContactSealer,
    ContactSealError,
    KeyDestroyed,
    MasterKeys,
    Purpose,
    Sealer,
    new_data_key,
    new_key,
    open_with,
    purpose_key,
    resident_of,
    seal_with,
)
from tsunagu.shared.internal import caller_headers, require_service
from tsunagu.shared.settings import Settings


class Store:
    """Data keys by resident; deleting one is what erasure does."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.fetches = 0

    async def fetch(self, resident_id: str, purpose: str) -> bytes | None:
        self.fetches += 1
        key = self.keys.get(resident_id)
        return None if key is None else purpose_key(key, purpose)


async def test_a_value_opens_with_its_residents_purpose_key_only() -> None:
    store = Store()
    store.keys = {"r1": new_data_key(), "r2": new_data_key()}
    sealer = Sealer(CachedKeys(store.fetch))
    token = await sealer.seal("r1", Purpose.CONTACT, {"name": "山田 花子"})
    assert resident_of(token) == "r1"
    assert "山田".encode() not in token.encode()
    assert await sealer.open(token) == {"name": "山田 花子"}
    # Another resident's key, or another purpose of the same resident, opens nothing.
    with pytest.raises(ContactSealError):
        open_with(purpose_key(store.keys["r2"], Purpose.CONTACT), token)
    with pytest.raises(ContactSealError):
        open_with(purpose_key(store.keys["r1"], Purpose.KANA), token)


async def test_destroying_the_key_makes_every_copy_unreadable() -> None:
    store = Store()
    store.keys = {"r1": new_data_key()}
    keys = CachedKeys(store.fetch, ttl_seconds=60)
    sealer = Sealer(keys)
    token = await sealer.seal("r1", Purpose.KANA, "やまだ はなこ")
    copy = json.loads(json.dumps({"kana_sealed": token}))["kana_sealed"]
    del store.keys["r1"]
    keys.forget("r1")
    with pytest.raises(KeyDestroyed):
        await sealer.open(copy)


async def test_keys_are_cached_for_a_short_while() -> None:
    store = Store()
    store.keys = {"r1": new_data_key()}
    sealer = Sealer(CachedKeys(store.fetch, ttl_seconds=60))
    token = await sealer.seal("r1", Purpose.CONTACT, {"phone": "09012345678"})
    for _ in range(5):
        await sealer.open(token)
    assert store.fetches == 1


async def test_a_batch_of_values_fetches_its_keys_in_one_request_per_purpose() -> None:
    store = Store()
    store.keys = {"r1": new_data_key(), "r2": new_data_key(), "r3": new_data_key()}
    asked: list[tuple[list[str], str]] = []

    async def fetch_many(resident_ids: list[str], purpose: str) -> dict[str, bytes]:
        asked.append((resident_ids, purpose))
        return {r: purpose_key(store.keys[r], purpose) for r in resident_ids if r in store.keys}

    keys = CachedKeys(store.fetch, ttl_seconds=60, fetch_many=fetch_many)
    sealer = Sealer(keys)
    contact = [
        seal_with(purpose_key(store.keys[r], Purpose.CONTACT), r, Purpose.CONTACT, {"name": r})
        for r in ("r1", "r2", "r3")
    ]
    kana = seal_with(purpose_key(store.keys["r1"], Purpose.KANA), "r1", Purpose.KANA, "やまだ")
    assert await sealer.open(contact[0]) == {"name": "r1"}
    assert store.fetches == 1  # r1's contact key, one by one
    del store.keys["r3"]  # erased meanwhile
    await sealer.prefetch([*contact, contact[1], kana, None, "not sealed"])
    # r1's contact key was cached: only r2 and r3 asked for, in one request; the kana key too.
    assert sorted(asked) == [(["r1"], "kana"), (["r2", "r3"], "contact")]
    assert await sealer.open(contact[1]) == {"name": "r2"}
    assert await sealer.open(kana) == "やまだ"
    with pytest.raises(KeyDestroyed):  # the erased resident's key stays unknown, cached
        await sealer.open(contact[2])
    assert store.fetches == 1  # every open above was a cache hit
    await sealer.prefetch(contact)
    assert len(asked) == 2  # all cached: nothing asked


async def test_the_shared_contact_key_still_opens_older_values() -> None:
    legacy = ContactSealer(new_key())
    sealer = Sealer(None, legacy=legacy)
    assert await sealer.open(legacy.seal({"name": "x"})) == {"name": "x"}
    assert legacy.open(await sealer.seal_like(None, {"html": "<p>"})) == {"html": "<p>"}


def test_master_key_rotation_unwraps_keys_wrapped_by_an_older_master() -> None:
    old, new = new_key(), new_key()
    data_key = new_data_key()
    key_id, wrapped = MasterKeys("m1", old).wrap(data_key)
    rotated = MasterKeys("m2", new, {"m1": old})
    assert rotated.unwrap(key_id, wrapped) == data_key
    assert rotated.wrap(data_key)[0] == "m2"
    with pytest.raises(ContactSealError):
        MasterKeys("m2", new).unwrap(key_id, wrapped)


def test_a_sealed_value_names_resident_and_purpose_but_holds_no_plain_text() -> None:
    key = purpose_key(new_data_key(), Purpose.CONTACT)
    token = seal_with(key, "r9", Purpose.CONTACT, {"email": "hanako@example.jp"})
    assert token.startswith("rk1:r9:contact:")
    assert "hanako" not in token


def test_internal_endpoints_admit_only_named_services_with_their_credential() -> None:
    receiving = Settings(service="intake", env="test")
    app = FastAPI()

    @app.get("/internal")
    def internal(caller: str = Depends(require_service(receiving, "notify"))) -> str:
        return caller

    client = TestClient(app)
    notify = Settings(service="notify", env="test")
    food = Settings(service="food_distribution", env="test")
    assert client.get("/internal", headers=caller_headers(notify)).json() == "notify"
    assert client.get("/internal", headers=caller_headers(food)).status_code == 401
    forged = {**caller_headers(notify), "authorization": "Service wrong"}
    assert client.get("/internal", headers=forged).status_code == 401
    assert client.get("/internal").status_code == 401
