"""Fix the few mistakes whose fix is certain; leave everything else to the person.

Repaired: an amount written as a string (``"12.50"``, ``"12.50 EUR"``) becomes a money object
when the currency is known and the amount fits its precision; a lower-case currency code whose
upper-case form is a currency is upper-cased; a missing attachment ``size`` or ``sha256`` is
computed from data that decodes. Nothing is guessed: an amount with more decimals than its
currency has, or with no currency in sight, is left as it is.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from integrations.envelope.check import CURRENCY_PATHS, context_currency, parse_amount_text
from integrations.envelope.core import (
    MONEY_PATHS,
    AttachmentError,
    is_currency,
    payloads,
    pointer,
    unpack_attachment,
    walk_paths,
)


@dataclass(frozen=True, slots=True)
class Change:
    pointer: str
    before: Any
    after: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.pointer}: {self.before!r} -> {self.after!r} ({self.reason})"


def repair(doc: Any) -> tuple[Any, list[Change]]:
    """A repaired copy of ``doc`` and the changes made; ``doc`` itself is not touched."""
    fixed = copy.deepcopy(doc)
    changes: list[Change] = []
    if not isinstance(fixed, dict):
        return fixed, changes
    for kind, base, payload in payloads(fixed):
        changes += _currencies(kind, base, payload)
        changes += _amounts(kind, base, payload)
    changes += _attachments(fixed)
    return fixed, changes


def _upper(code: Any) -> str | None:
    if isinstance(code, str) and not is_currency(code) and is_currency(code.upper()):
        return code.upper()
    return None


def _currencies(kind: str, base: tuple[str | int, ...], payload: Any) -> list[Change]:
    changes = []
    money_currency = tuple((*path, "currency") for path in MONEY_PATHS.get(kind, ()))
    for path in (*CURRENCY_PATHS.get(kind, ()), *money_currency):
        for at, parent, key, value in walk_paths(payload, path):
            if (upper := _upper(value)) is not None:
                parent[key] = upper
                changes.append(
                    Change(pointer(*base, *at), value, upper, "currency codes are upper case")
                )
    return changes


def _amounts(kind: str, base: tuple[str | int, ...], payload: Any) -> list[Change]:
    changes = []
    for path in MONEY_PATHS.get(kind, ()):
        for at, parent, key, value in walk_paths(payload, path):
            if not isinstance(value, str):
                continue
            parsed = parse_amount_text(value, context_currency(payload, at))
            if isinstance(parsed, str):
                continue
            after = {"minor": parsed[0], "currency": parsed[1]}
            parent[key] = after
            changes.append(
                Change(
                    pointer(*base, *at),
                    value,
                    after,
                    f"money is integer minor units of the currency ({parsed[1]})",
                )
            )
    return changes


def _attachments(doc: dict[str, Any]) -> list[Change]:
    attachments = doc.get("attachments")
    if not isinstance(attachments, list):
        return []
    changes = []
    for index, attachment in enumerate(attachments):
        if not isinstance(attachment, dict) or ("size" in attachment and "sha256" in attachment):
            continue
        try:
            data = unpack_attachment(attachment)
        except AttachmentError:
            continue
        computed = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, value in computed.items():
            if name not in attachment:
                attachment[name] = value
                changes.append(
                    Change(
                        pointer("attachments", index, name), None, value, "computed from the data"
                    )
                )
    return changes
