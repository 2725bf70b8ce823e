"""Secrets at rest: provider credentials, chat tokens, SMTP passwords, webhook and signing
secrets and the members' two-factor (TOTP) secrets are stored encrypted with a key ring
(MultiFernet).

``INVOICE_LITE_SECRET_KEYS`` holds Fernet keys, newest first (spaces or commas between them):
the newest encrypts, every key decrypts, so adding a key in front and running
``invoice-lite keys rotate`` moves every stored secret to it. Without the setting, one key is
derived from ``SECRET_KEY`` (fine for a demo; a server sets its own keys).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import Text, TypeDecorator
from sqlalchemy.engine import Dialect


class SecretError(Exception):
    """A stored secret none of the keys opens (a key left the ring too early)."""


def derived_key(secret_key: str) -> str:
    digest = hashlib.sha256(b"invoice-lite secrets at rest\0" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def configured_keys() -> tuple[str, ...]:
    raw = current_app.config.get("SECRET_KEYS") or ()
    keys = tuple(k for k in raw if k)
    return keys or (derived_key(str(current_app.config["SECRET_KEY"])),)


@lru_cache(maxsize=8)
def _ring(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except (ValueError, TypeError) as error:
        raise SecretError(
            "INVOICE_LITE_SECRET_KEYS holds something that is not a Fernet key "
            "(make one with: invoice-lite keys new)"
        ) from error


def ring() -> MultiFernet:
    return _ring(configured_keys())


def encrypt(plain: str) -> str:
    return ring().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return ring().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretError("A stored secret cannot be read with the configured keys.") from error


def rotate(token: str) -> str:
    """The same secret under the newest key."""
    try:
        return ring().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise SecretError("A stored secret cannot be read with the configured keys.") from error


def new_key() -> str:
    return Fernet.generate_key().decode()


class EncryptedText(TypeDecorator[str]):
    """Text that is a Fernet token in the database and plain text in Python; empty stays
    empty (nothing to hide, and "not set" stays visible)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or value == "":
            return value
        return encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(str(value))


#: Every encrypted column, as (table, column): ``keys rotate`` and the migration walk these.
ENCRYPTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("payment_accounts", "credentials"),
    ("notification_channels", "target"),
    ("businesses", "smtp_password"),
    ("webhook_endpoints", "secret"),
    ("webhook_endpoints", "previous_secret"),
    ("api_keys", "signing_secret"),
    ("totp_credentials", "secret"),
)
