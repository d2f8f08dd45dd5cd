"""Sealing residents' contact details for the bus: only holders of the contact key can read them."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class ContactSealError(Exception):
    """A sealed value could not be opened (wrong key or tampered)."""


class ContactSealer:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError) as exc:
            raise ContactSealError("cannot open sealed contact details") from exc
        return opened


def new_key() -> str:
    return Fernet.generate_key().decode()
