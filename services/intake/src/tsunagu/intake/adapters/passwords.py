"""Staff password hashing with the standard library's scrypt (no extra dependency)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# n=2**14, r=8, p=1: the interactive-login parameters recommended for scrypt (~16 MiB, ~50 ms).
_N, _R, _P, _LEN = 2**14, 8, 1, 32
_PREFIX = "scrypt"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(errors="surrogatepass"), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN
    )
    return f"{_PREFIX}${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; an unknown user (``stored`` None) costs the same as a known one."""
    if stored is None:
        hash_password(password)
        return False
    try:
        prefix, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(errors="surrogatepass"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return prefix == _PREFIX and hmac.compare_digest(actual, expected)
