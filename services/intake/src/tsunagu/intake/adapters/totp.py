"""TOTP second factor (RFC 6238, 30-second steps, six digits) with ``pyotp``.

The secret is kept sealed by the master key (the one that wraps residents' data keys, ADR 12),
so a copy of the database or a backup does not give the second factor away. A code is taken
once: a sign-in records the time step it used, and a code of that step or an earlier one is
refused afterwards (RFC 6238, section 5.2).
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

import pyotp
import segno

from tsunagu.shared.crypto import MasterKeys

ISSUER = "Tsunagu"
STEP = timedelta(seconds=30)
_SEALED = "sealed"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """What an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str, title: str) -> str:
    """The provisioning URI as an inline SVG QR code, for the set-up page to show."""
    return str(segno.make(uri, error="m", micro=False).svg_inline(scale=4, border=4, title=title))


def _well_formed(code: str) -> str | None:
    code = code.strip().replace(" ", "")
    return code if code.isascii() and code.isdigit() and len(code) == 6 else None


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is: this 30-second step or the one either side
    (clocks drift a little); None when it is none of them."""
    given = _well_formed(code)
    if given is None:
        return None
    otp = pyotp.TOTP(secret)
    for offset in (-1, 0, 1):
        when = now + offset * STEP
        if hmac.compare_digest(otp.at(when), given):
            return int(otp.timecode(when))
    return None


def verify(secret: str, code: str, now: datetime) -> bool:
    """Whether ``code`` is valid now (setting the factor up; sign-ins use ``matching_step``)."""
    return matching_step(secret, code, now) is not None


def code_at(secret: str, when: datetime) -> str:
    """The code an authenticator app shows at ``when`` (tests and tools)."""
    return pyotp.TOTP(secret).at(when)


def seal(master: MasterKeys, secret: str) -> str:
    """What is stored: ``sealed:<master key id>:<wrapped secret>``."""
    key_id, wrapped = master.wrap(secret.encode())
    return f"{_SEALED}:{key_id}:{wrapped}"


def is_sealed(stored: str) -> bool:
    return stored.startswith(_SEALED + ":")


def needs_sealing(master: MasterKeys, stored: str) -> bool:
    """Stored in the clear (before sealing), or sealed by a master key since rotated out."""
    return not is_sealed(stored) or stored.split(":", 2)[1] != master.current_id


def unseal(master: MasterKeys, stored: str) -> str:
    """The secret from what is stored. A secret stored before sealing (a bare base32 string)
    is returned as it is; the next sign-in seals it."""
    if not is_sealed(stored):
        return stored
    _, key_id, wrapped = stored.split(":", 2)
    return master.unwrap(key_id, wrapped).decode()


class Authenticator:
    """What an authenticator app does, for tests and tools that sign in repeatedly: it gives
    each code once, as a verifier that takes a code once expects. It gives the current step's
    code, then the next step's; after that, the time to wait until a new step begins."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._given: int | None = None

    def code_or_wait(self, now: datetime) -> str | float:
        otp = pyotp.TOTP(self.secret)
        current = int(otp.timecode(now))
        step = current if self._given is None else max(self._given + 1, current)
        if step > current + 1:
            return STEP.total_seconds() - now.timestamp() % STEP.total_seconds() + 0.1
        self._given = step
        return otp.at(int(step * STEP.total_seconds()))
