"""What an e-invoice states, in syntax-neutral form, and the helpers both readers share.

A reader turns the XML into engine input (``DocumentInput``) plus the totals the sender
wrote down (``StatedTotals``); the checker then compares the two. Keeping the stated figures as
``Decimal`` exactly as written means a report shows the sender's own text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from xml.etree.ElementTree import Element

from portal.billing.totals import DocumentInput

__all__ = [
    "EInvoiceReadError",
    "ParsedInvoice",
    "Reader",
    "StatedSubtotal",
    "StatedTotals",
]

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class EInvoiceReadError(ValueError):
    """The file cannot be read as an e-invoice; the message says why and names the element."""


@dataclass(frozen=True, slots=True)
class StatedSubtotal:
    """One tax breakdown row as written (BG-23)."""

    category: str
    percent: Decimal
    base: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class StatedTotals:
    """The document totals as written; ``None`` where an optional element is absent."""

    line_nets: tuple[Decimal, ...]
    sum_of_line_nets: Decimal
    allowance_total: Decimal | None
    charge_total: Decimal | None
    tax_exclusive: Decimal
    tax_total: Decimal | None
    tax_inclusive: Decimal
    prepaid: Decimal | None
    rounding: Decimal | None
    amount_due: Decimal
    breakdown: tuple[StatedSubtotal, ...]


@dataclass(frozen=True, slots=True)
class ParsedInvoice:
    """An e-invoice read into engine input plus what it states."""

    syntax: str  # "UBL Invoice", "UBL CreditNote" or "CII"
    document: DocumentInput
    stated: StatedTotals


class Reader:
    """Namespace-aware lookups whose errors name the missing or malformed element."""

    def __init__(self, namespaces: dict[str, str]) -> None:
        self.namespaces = namespaces

    def find(self, parent: Element, path: str) -> Element | None:
        return parent.find(path, self.namespaces)

    def findall(self, parent: Element, path: str) -> list[Element]:
        return parent.findall(path, self.namespaces)

    def require(self, parent: Element, path: str, where: str = "") -> Element:
        found = self.find(parent, path)
        if found is None:
            suffix = f" in {where}" if where else ""
            raise EInvoiceReadError(f"missing required element {path}{suffix}")
        return found

    def text(self, parent: Element, path: str, where: str = "") -> str:
        return (self.require(parent, path, where).text or "").strip()

    def optional_text(self, parent: Element, path: str) -> str | None:
        found = self.find(parent, path)
        return None if found is None else (found.text or "").strip()

    def number(self, parent: Element, path: str, where: str = "") -> Decimal:
        return to_number(self.text(parent, path, where), path, where)

    def optional_number(self, parent: Element, path: str, where: str = "") -> Decimal | None:
        text = self.optional_text(parent, path)
        return None if text is None else to_number(text, path, where)


def to_number(text: str, path: str, where: str = "") -> Decimal:
    """A plain decimal number; exponents, NaN and thousands separators are refused."""
    if not _NUMBER.fullmatch(text):
        suffix = f" in {where}" if where else ""
        raise EInvoiceReadError(f"bad number {text!r} in {path}{suffix}")
    return Decimal(text)


def to_indicator(text: str, path: str, where: str) -> bool:
    """An allowance/charge indicator: ``true`` means charge, ``false`` allowance."""
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise EInvoiceReadError(f"bad indicator {text!r} in {path} in {where}")
