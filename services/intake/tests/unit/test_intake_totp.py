"""The second factor's arithmetic: which step a code is, sealing, and codes given once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tsunagu.intake.adapters import totp
from tsunagu.shared.crypto import ContactSealError, MasterKeys, new_key

NOW = datetime(2026, 12, 6, 9, 0, 10, tzinfo=UTC)


def test_a_code_of_this_step_or_either_side_matches_its_own_step_and_no_other() -> None:
    secret = totp.new_secret()
    here = totp.matching_step(secret, totp.code_at(secret, NOW), NOW)
    assert here is not None
    assert totp.matching_step(secret, totp.code_at(secret, NOW - totp.STEP), NOW) == here - 1
    assert totp.matching_step(secret, totp.code_at(secret, NOW + totp.STEP), NOW) == here + 1
    assert totp.matching_step(secret, totp.code_at(secret, NOW - 2 * totp.STEP), NOW) is None
    spaced = totp.code_at(secret, NOW)
    assert totp.matching_step(secret, f" {spaced[:3]} {spaced[3:]} ", NOW) == here


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "１２３４５６"])
def test_malformed_codes_match_nothing(code: str) -> None:
    assert totp.matching_step(totp.new_secret(), code, NOW) is None


def test_a_sealed_secret_opens_with_its_master_key_only() -> None:
    k1 = new_key()
    master = MasterKeys("k1", k1)
    secret = totp.new_secret()
    stored = totp.seal(master, secret)
    assert totp.is_sealed(stored) and secret not in stored
    assert totp.unseal(master, stored) == secret
    assert not totp.needs_sealing(master, stored)
    # After the master key is rotated, the older one still opens it, until it is resealed.
    rotated = MasterKeys("k2", new_key(), {"k1": k1})
    assert totp.unseal(rotated, stored) == secret
    assert totp.needs_sealing(rotated, stored)
    assert totp.needs_sealing(master, secret)
    with pytest.raises(ContactSealError):
        totp.unseal(MasterKeys("k1", new_key()), stored)
    # Stored before sealing: taken as it is.
    assert totp.unseal(master, secret) == secret


def test_an_authenticator_gives_each_step_once_then_says_how_long_to_wait() -> None:
    secret = totp.new_secret()
    app = totp.Authenticator(secret)
    first, second = app.code_or_wait(NOW), app.code_or_wait(NOW)
    assert first == totp.code_at(secret, NOW)
    assert second == totp.code_at(secret, NOW + totp.STEP)
    wait = app.code_or_wait(NOW)
    assert isinstance(wait, float) and 0 < wait <= 30.1
    later = NOW + timedelta(seconds=wait)
    assert app.code_or_wait(later) == totp.code_at(secret, NOW + 2 * totp.STEP)
