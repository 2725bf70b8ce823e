"""Parse an e-invoice file safely and hand it to the reader for its syntax.

Files come from outside, so the parser refuses any DTD: UBL and CII never need one, and refusing
it outright stops entity-expansion bombs and external entity fetches before they start.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from portal.billing.errors import BillingError
from portal.einvoice.cii import CROSS_INDUSTRY_INVOICE, parse_cii
from portal.einvoice.source import EInvoiceReadError, ParsedInvoice
from portal.einvoice.ubl import CREDIT_NOTE, INVOICE, parse_ubl

__all__ = ["MAX_BYTES", "parse_xml", "read_invoice", "read_root"]

MAX_BYTES = 20 * 1024 * 1024


def parse_xml(data: bytes) -> Element:
    """Parse untrusted XML bytes; raises ``EInvoiceReadError`` for a DTD, entities or bad XML."""
    if not data.strip():
        raise EInvoiceReadError("the file is empty")
    if len(data) > MAX_BYTES:
        raise EInvoiceReadError(f"file is larger than {MAX_BYTES} bytes")
    try:
        root: Element = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise EInvoiceReadError(
            f"XML with a DTD or entity declarations is not accepted ({type(exc).__name__})"
        ) from exc
    except ParseError as exc:
        raise EInvoiceReadError(f"not well-formed XML: {exc}") from exc
    return root


def read_root(root: Element) -> ParsedInvoice:
    """Read a parsed UBL Invoice/CreditNote or CII CrossIndustryInvoice root element."""
    try:
        if root.tag in (INVOICE, CREDIT_NOTE):
            return parse_ubl(root)
        if root.tag == CROSS_INDUSTRY_INVOICE:
            return parse_cii(root)
    except BillingError as exc:
        raise EInvoiceReadError(f"invalid invoice data: {exc}") from exc
    raise EInvoiceReadError(
        f"unknown root element {root.tag}: expected a UBL Invoice or CreditNote, "
        "or a CII CrossIndustryInvoice"
    )


def read_invoice(data: bytes) -> ParsedInvoice:
    """Read UBL 2.1 Invoice/CreditNote or CII CrossIndustryInvoice bytes.

    Raises ``EInvoiceReadError`` saying why the file cannot be read: not XML, a DTD, an unknown
    root element, a missing required element (named), a bad number, or data the billing rules
    refuse (an unknown tax category, say).
    """
    return read_root(parse_xml(data))
