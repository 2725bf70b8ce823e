"""Password hashing with Argon2id."""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_LENGTH = 10
COMMON = (
    "This password is one of the most common ones, the first that attackers try. Choose another."
)


@cache
def _hasher(profile: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(getattr(profiles, profile))


def hasher() -> PasswordHasher:
    return _hasher(str(current_app.config["ARGON2_PROFILE"]))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_strength(password: str) -> str | None:
    """A message when the password is too weak, else None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords() or "".join(lowered.split()) in common_passwords():
        return COMMON
    return None


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of the most common passwords (see portal/data/README.md)."""
    text = resources.files("portal").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))
