"""Small helpers both writers share: building elements and writing numbers EN 16931 accepts."""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

__all__ = ["amount", "number", "sub"]


def sub(
    parent: etree._Element, tag: str, text: str | None = None, **attributes: str
) -> etree._Element:
    element = etree.SubElement(parent, tag, attrib=attributes)
    if text is not None:
        element.text = text
    return element


def amount(value: Decimal) -> str:
    """An amount already at the currency's precision, as a plain decimal ("12.30", "1000")."""
    return format(value, "f")


def number(value: Decimal) -> str:
    """A quantity, percentage or price without trailing zeros or exponent ("1.5", "20")."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text
