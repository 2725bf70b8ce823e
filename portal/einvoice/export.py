"""Turn engine input plus the parties into ``EInvoiceData``, the way EN 16931 can say it.

EN 16931 knows one VAT rate per line and per document allowance or charge, and prices net of
tax. A line priced with tax included is written with its net as the price of ``quantity`` units
(BT-146 with BT-149), which states the same net exactly. A line without tax is written as
category O (not subject to VAT). A line carrying two taxes cannot be written at all.

The breakdown is recomputed per VAT category and rate; should that round differently from the
document's own breakdown (two rates with equal percentage but different names), exporting is
refused rather than sending totals that differ from the invoice the client saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from portal.billing.lines import LineInput, price_line
from portal.billing.tax import TaxRate
from portal.billing.totals import DocumentInput, compute_totals
from portal.einvoice.model import (
    Adjustment,
    EInvoiceData,
    EInvoiceLine,
    EInvoiceTotals,
    Party,
    Subtotal,
    VatRate,
)

__all__ = ["EInvoiceExportError", "Header", "LineText", "einvoice_data"]


class EInvoiceExportError(ValueError):
    """The document cannot be written as EN 16931; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Header:
    is_credit_note: bool
    number: str
    issue_date: date
    seller: Party
    buyer: Party
    due_date: date | None = None
    po_number: str = ""
    note: str = ""
    payment_terms: str = ""
    payment_instructions: str = ""
    preceding_invoice: str = ""
    preceding_invoice_date: date | None = None


@dataclass(frozen=True, slots=True)
class LineText:
    name: str
    description: str = ""
    unit_code: str = "C62"


_NOT_SUBJECT = TaxRate("O", Decimal(0))


def _one_rate(taxes: tuple[TaxRate, ...], where: str) -> TaxRate:
    if len(taxes) > 1:
        names = ", ".join(rate.name or f"{rate.category} {rate.percent}%" for rate in taxes)
        raise EInvoiceExportError(
            f"{where} carries {len(taxes)} taxes ({names}); an EN 16931 e-invoice allows one "
            "VAT rate per line, allowance or charge."
        )
    if not taxes:
        return _NOT_SUBJECT
    return TaxRate(taxes[0].category, Decimal(taxes[0].percent))


def _vat(rate: TaxRate) -> VatRate:
    return VatRate(rate.category, Decimal(rate.percent).normalize())


def _en_line(line: LineInput, number: int, currency: str, document: DocumentInput) -> LineInput:
    rate = _one_rate(line.taxes, f"Line {number}")
    if not line.price_includes_tax:
        return dataclasses.replace(line, taxes=(rate,))
    net = price_line(line, number, currency, document.rounding_mode).net.to_decimal()
    quantity = abs(line.quantity)
    if quantity == 0:
        return LineInput(quantity=line.quantity, unit_price=net, taxes=(rate,))
    sign = -1 if line.quantity < 0 else 1
    return LineInput(
        quantity=line.quantity, unit_price=sign * net, base_quantity=quantity, taxes=(rate,)
    )


def einvoice_data(
    header: Header, document: DocumentInput, texts: Sequence[LineText]
) -> EInvoiceData:
    """The e-invoice for ``document``; ``texts`` gives each line's name, description and unit.

    Raises ``EInvoiceExportError`` when EN 16931 cannot express the document exactly.
    """
    currency = document.currency
    en_document = dataclasses.replace(
        document,
        lines=tuple(
            _en_line(line, number, currency, document)
            for number, line in enumerate(document.lines, start=1)
        ),
        allowances=tuple(
            dataclasses.replace(a, taxes=(_one_rate(a.taxes, f"Allowance {n}"),))
            for n, a in enumerate(document.allowances, start=1)
        ),
        charges=tuple(
            dataclasses.replace(c, taxes=(_one_rate(c.taxes, f"Charge {n}"),))
            for n, c in enumerate(document.charges, start=1)
        ),
    )
    totals = compute_totals(en_document)
    own = compute_totals(document)
    if (totals.tax_total, totals.amount_due) != (own.tax_total, own.amount_due):
        raise EInvoiceExportError(
            f"Per VAT rate the tax comes to {totals.tax_total}, but the document's own "
            f"breakdown says {own.tax_total}: two tax rates share a category and percentage. "
            "Use one of them on every line to export this document."
        )
    lines = []
    for number, (line, result) in enumerate(zip(en_document.lines, totals.lines, strict=True)):
        text = texts[number]
        lines.append(
            EInvoiceLine(
                line_id=str(number + 1),
                name=text.name,
                description=text.description,
                quantity=line.quantity,
                unit_code=text.unit_code,
                price=line.unit_price,
                base_quantity=line.base_quantity,
                allowance=result.allowance.to_decimal(),
                allowance_percent=line.discount_percent,
                charge=result.charge.to_decimal(),
                net=result.net.to_decimal(),
                vat=_vat(line.taxes[0]),
            )
        )
    adjustments = [
        Adjustment(False, a.amount, a.reason, _vat(a.taxes[0])) for a in en_document.allowances
    ] + [Adjustment(True, c.amount, c.reason, _vat(c.taxes[0])) for c in en_document.charges]
    breakdown = tuple(
        Subtotal(
            VatRate(row.category, row.percent.normalize()),
            row.base.to_decimal(),
            row.tax.to_decimal(),
        )
        for row in totals.breakdown
    )
    return EInvoiceData(
        is_credit_note=header.is_credit_note,
        number=header.number,
        issue_date=header.issue_date,
        currency=currency,
        seller=header.seller,
        buyer=header.buyer,
        lines=tuple(lines),
        adjustments=tuple(adjustments),
        breakdown=breakdown,
        totals=EInvoiceTotals(
            line_nets=totals.sum_of_line_nets.to_decimal(),
            allowances=totals.allowance_total.to_decimal(),
            charges=totals.charge_total.to_decimal(),
            tax_exclusive=totals.tax_exclusive.to_decimal(),
            tax=totals.tax_total.to_decimal(),
            tax_inclusive=totals.tax_inclusive.to_decimal(),
            prepaid=totals.prepaid.to_decimal(),
            rounding=totals.rounding.to_decimal(),
            amount_due=totals.amount_due.to_decimal(),
        ),
        due_date=header.due_date,
        po_number=header.po_number,
        note=header.note,
        payment_terms=header.payment_terms,
        payment_instructions=header.payment_instructions,
        preceding_invoice=header.preceding_invoice,
        preceding_invoice_date=header.preceding_invoice_date,
    )
