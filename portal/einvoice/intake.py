"""Everything we can tell about an uploaded e-invoice before deciding what to do with it.

``inspect_einvoice`` takes the uploaded bytes (UBL or CII XML, or a Factur-X/ZUGFeRD PDF) and
returns the structure problems, the parsed figures and the totals check. It raises
``EInvoiceReadError`` only when the file is not an e-invoice at all (empty, not XML, a DTD, a PDF
without XML, an unknown root element); anything else becomes a listed problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element

from portal.billing.errors import BillingError
from portal.billing.money import Rounding
from portal.einvoice.check import CheckReport, check_invoice
from portal.einvoice.details import InvoiceDetails, read_details
from portal.einvoice.pdf import is_pdf, xml_from_pdf
from portal.einvoice.read import parse_xml, read_root
from portal.einvoice.source import EInvoiceReadError, ParsedInvoice
from portal.einvoice.validate import (
    ERROR,
    WARNING,
    Problem,
    structure_problems,
    totals_problems,
)

__all__ = ["Inspection", "inspect_einvoice"]

_KNOWN_ROOTS = ("Invoice", "CreditNote", "CrossIndustryInvoice")


@dataclass(frozen=True, slots=True)
class Inspection:
    source_format: str  # "ubl", "cii" or "facturx"
    xml: bytes
    details: InvoiceDetails
    parsed: ParsedInvoice | None
    check: CheckReport | None
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == ERROR)

    @property
    def syntax(self) -> str:
        if self.parsed is not None:
            return self.parsed.syntax
        return "CII" if self.source_format != "ubl" else "UBL"

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.source_format,
            "syntax": self.syntax,
            "number": self.details.number,
            "seller": self.details.seller.name,
            "buyer": self.details.buyer.name,
            "currency": self.details.currency,
            "problems": [problem.as_json() for problem in self.problems],
            "check": None if self.check is None else self.check.as_json(),
        }


def _root(xml: bytes) -> Element:
    root = parse_xml(xml)
    local = root.tag.rpartition("}")[2]
    if local not in _KNOWN_ROOTS:
        read_root(root)  # raises, naming the unknown root
    return root


def _check(parsed: ParsedInvoice) -> CheckReport:
    """Senders round half up or half even; totals that agree under either are right."""
    report = check_invoice(parsed, Rounding.HALF_UP)
    if not report.ok:
        other = check_invoice(parsed, Rounding.HALF_EVEN)
        if other.ok:
            return other
    return report


def inspect_einvoice(filename: str, data: bytes) -> Inspection:
    """Read and validate an uploaded e-invoice; ``filename`` only tells a PDF by its name."""
    if not data.strip():
        raise EInvoiceReadError("the file is empty")
    if is_pdf(data) or filename.lower().endswith(".pdf"):
        xml = xml_from_pdf(data)
        source_format = "facturx"
    else:
        xml = data
        source_format = ""
    root = _root(xml)
    if not source_format:
        source_format = "cii" if root.tag.endswith("}CrossIndustryInvoice") else "ubl"

    problems = structure_problems(root)
    details = read_details(root)
    parsed: ParsedInvoice | None = None
    report: CheckReport | None = None
    if not any(p.rule == "namespace" for p in problems):
        try:
            parsed = read_root(root)
            report = _check(parsed)
        except (EInvoiceReadError, BillingError) as exc:
            parsed = None
            if not problems:
                problems.append(Problem("schema", "", f"The invoice cannot be read: {exc}."))
    if report is not None:
        problems.extend(totals_problems(report))
        if (
            Decimal(report.computed["amount_due"]) > 0
            and details.due_date is None
            and not details.payment_terms
            and not details.is_credit_note
        ):
            problems.append(
                Problem(
                    "BR-CO-25",
                    "BT-9/BT-20",
                    "An amount is due but neither a due date nor payment terms are given.",
                    WARNING,
                )
            )
    return Inspection(
        source_format=source_format,
        xml=xml,
        details=details,
        parsed=parsed,
        check=report,
        problems=tuple(problems),
    )
