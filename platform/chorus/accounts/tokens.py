"""Making and checking API token strings. Tokens are 256-bit random, so a plain SHA-256 is a safe
lookup key (no salt or slow hash needed, unlike passwords)."""
from __future__ import annotations

import hashlib
import secrets

PREFIX_BYTES = 6
SECRET_BYTES = 32


def token_generate() -> tuple[str, str]:
    """Returns (prefix, full token)."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    return prefix, f"chorus_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
