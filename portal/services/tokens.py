"""Random tokens whose hash alone is stored."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> tuple[str, str]:
    """Return (token for the link, its hash for the database)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
