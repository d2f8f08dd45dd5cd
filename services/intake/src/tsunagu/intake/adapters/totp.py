"""TOTP second factor (RFC 6238, 30-second steps, six digits) with ``pyotp``."""

from __future__ import annotations

from datetime import datetime

import pyotp

ISSUER = "Tsunagu"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """What an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def verify(secret: str, code: str, now: datetime) -> bool:
    """The code of this 30-second step or the one either side (clocks drift a little)."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return False
    return bool(pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1))


def code_at(secret: str, when: datetime) -> str:
    """The code an authenticator app shows at ``when`` (tests and tools)."""
    return pyotp.TOTP(secret).at(when)
