"""Errors that services raise and views translate for the user."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: the message is fit to show to the user."""


class NotFound(ServiceError):
    """The thing does not exist, or belongs to another business (never say which)."""


class Forbidden(ServiceError):
    """The actor's role does not allow this."""


class InvalidInput(ServiceError):
    """Input broke a rule; ``errors`` maps each field name to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
