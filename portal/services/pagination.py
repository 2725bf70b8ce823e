"""Keyset pagination: a cursor names the last row seen, never an offset."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any] | None:
    """The cursor's values, or None when it is not one of ours (then start from the top)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != arity:
        return None
    # Only what we write: strings and integers a database column can hold. A list, an object or
    # an integer past 64 bits would reach the SQL as a bind value and fail there.
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str | float | None):
            return None
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            return None
    return values
