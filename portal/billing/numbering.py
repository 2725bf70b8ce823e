"""Document number patterns such as ``INV-{YYYY}-{SEQ:5}`` and the period a sequence counts in.

Tokens: ``{YYYY}`` four-digit year, ``{YY}`` two-digit year, ``{MM}`` two-digit month, ``{SEQ}``
the sequence number, ``{SEQ:n}`` zero-padded to ``n`` digits (a longer number is never cut).
The sequence itself (gap-free, unique per business) lives in the database; this module only
renders it and tells which counter a date belongs to (``period_key``).
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from portal.billing.errors import BillingError

__all__ = ["NumberPatternError", "Reset", "period_key", "render_number", "validate_pattern"]

MAX_WIDTH = 12
MAX_LENGTH = 64
_TOKEN = re.compile(r"\{([^{}]*)\}")
_SEQ = re.compile(r"SEQ(?::(\d+))?")


class NumberPatternError(BillingError):
    """A number pattern that cannot be rendered; the message names the problem."""


class Reset(StrEnum):
    """When the sequence starts again at 1."""

    NEVER = "never"
    YEARLY = "yearly"
    MONTHLY = "monthly"


def _tokens(pattern: str) -> list[str]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise NumberPatternError("number pattern must not be empty")
    if len(pattern) > MAX_LENGTH:
        raise NumberPatternError(f"number pattern is longer than {MAX_LENGTH} characters")
    leftover = _TOKEN.sub("", pattern)
    if "{" in leftover or "}" in leftover:
        raise NumberPatternError("number pattern has an unmatched brace")
    return _TOKEN.findall(pattern)


def validate_pattern(pattern: str, reset: Reset = Reset.NEVER) -> None:
    """Raise ``NumberPatternError`` unless ``pattern`` renders unique numbers under ``reset``.

    It must hold exactly one ``{SEQ}``; and a sequence that restarts each year (month) needs the
    year (and month) in the pattern, or January's INV-00001 would repeat last year's.
    """
    tokens = _tokens(pattern)
    seq_count = 0
    for part in tokens:
        seq = _SEQ.fullmatch(part)
        if seq is not None:
            seq_count += 1
            width = seq.group(1)
            if width is not None and not 1 <= int(width) <= MAX_WIDTH:
                raise NumberPatternError(f"{{{part}}}: width must be between 1 and {MAX_WIDTH}")
        elif part not in ("YYYY", "YY", "MM"):
            raise NumberPatternError(f"unknown token {{{part}}} in number pattern")
    if seq_count != 1:
        raise NumberPatternError("number pattern must contain {SEQ} exactly once")
    has_year = "YYYY" in tokens or "YY" in tokens
    if reset in (Reset.YEARLY, Reset.MONTHLY) and not has_year:
        raise NumberPatternError(f"a {reset.value} reset needs {{YYYY}} or {{YY}} in the pattern")
    if reset is Reset.MONTHLY and "MM" not in tokens:
        raise NumberPatternError("a monthly reset needs {MM} in the pattern")


def render_number(pattern: str, sequence: int, on: date) -> str:
    """The document number for ``sequence`` (1 or more) dated ``on``: ``INV-2026-00042``."""
    validate_pattern(pattern)
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise TypeError(f"sequence must be an int, not {type(sequence).__name__}")
    if sequence < 1:
        raise NumberPatternError("sequence must be at least 1")

    def replace(match: re.Match[str]) -> str:
        part = match.group(1)
        if part == "YYYY":
            return f"{on.year:04d}"
        if part == "YY":
            return f"{on.year % 100:02d}"
        if part == "MM":
            return f"{on.month:02d}"
        width = _SEQ.fullmatch(part)
        assert width is not None  # validated above  # noqa: S101
        return str(sequence).zfill(int(width.group(1) or 0))

    return _TOKEN.sub(replace, pattern)


def period_key(reset: Reset, on: date) -> str:
    """Which counter a document dated ``on`` draws from: ``""`` (never resets), ``"2026"``, or
    ``"2026-05"``. A sequence resets exactly when this key differs from the last one used."""
    if reset is Reset.YEARLY:
        return f"{on.year:04d}"
    if reset is Reset.MONTHLY:
        return f"{on.year:04d}-{on.month:02d}"
    return ""
