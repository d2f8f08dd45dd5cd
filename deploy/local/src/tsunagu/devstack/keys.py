"""Development signing keys: an Ed25519 pair per local stack, kept beside its data (var/).

Intake gets the private key; the other services only the public key, as in production.
"""

from __future__ import annotations

import os
from pathlib import Path

from tsunagu.shared.auth import generate_keypair

PRIVATE = "auth_ed25519.pem"
PUBLIC = "auth_ed25519.pub.pem"


def ensure_keys(directory: Path) -> tuple[Path, Path]:
    """The key pair under ``directory`` (made on first use); returns (private, public)."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / PRIVATE, directory / PUBLIC
    if not (private.exists() and public.exists()):
        private_pem, public_pem = generate_keypair()
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(private_pem)
        public.write_text(public_pem)
    return private, public


def key_env(service: str, directory: Path) -> dict[str, str]:
    """The key settings for one service process."""
    private, public = ensure_keys(directory)
    env = {"TSUNAGU_AUTH_PUBLIC_KEY_FILE": str(public)}
    if service == "intake":
        env["TSUNAGU_AUTH_PRIVATE_KEY_FILE"] = str(private)
    return env
