"""Read a UBL 2.1 Invoice or CreditNote into engine input and stated totals."""

from __future__ import annotations

from decimal import Decimal
from xml.etree.ElementTree import Element

from portal.billing.lines import LineInput
from portal.billing.tax import TaxRate
from portal.billing.totals import DocumentAllowance, DocumentCharge, DocumentInput
from portal.einvoice.source import (
    EInvoiceReadError,
    ParsedInvoice,
    Reader,
    StatedSubtotal,
    StatedTotals,
    to_indicator,
)

__all__ = ["CREDIT_NOTE", "INVOICE", "parse_ubl"]

INVOICE = "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice"
CREDIT_NOTE = "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote"

_READER = Reader(
    {
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
        "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    }
)


def _tax_rate(category: Element, where: str) -> TaxRate:
    percent = _READER.optional_number(category, "cbc:Percent", where)
    return TaxRate(_READER.text(category, "cbc:ID", where), percent or Decimal(0))


def _line(element: Element, number: int, quantity_path: str) -> tuple[LineInput, Decimal]:
    where = f"line {number}"
    price = _READER.require(element, "cac:Price", where)
    base_quantity = _READER.optional_number(price, "cbc:BaseQuantity", where)
    allowances: list[Decimal] = []
    charges: list[Decimal] = []
    for adjustment in _READER.findall(element, "cac:AllowanceCharge"):
        is_charge = to_indicator(
            _READER.text(adjustment, "cbc:ChargeIndicator", where), "cbc:ChargeIndicator", where
        )
        amount = _READER.number(adjustment, "cbc:Amount", where)
        (charges if is_charge else allowances).append(amount)
    line = LineInput(
        quantity=_READER.number(element, quantity_path, where),
        unit_price=_READER.number(price, "cbc:PriceAmount", where),
        base_quantity=Decimal(1) if base_quantity is None else base_quantity,
        discount_amount=sum(allowances, Decimal(0)) if allowances else None,
        charge_amount=sum(charges, Decimal(0)),
        taxes=(
            _tax_rate(_READER.require(element, "cac:Item/cac:ClassifiedTaxCategory", where), where),
        ),
    )
    return line, _READER.number(element, "cbc:LineExtensionAmount", where)


def _document_adjustments(
    root: Element,
) -> tuple[tuple[DocumentAllowance, ...], tuple[DocumentCharge, ...]]:
    allowances: list[DocumentAllowance] = []
    charges: list[DocumentCharge] = []
    for number, element in enumerate(_READER.findall(root, "cac:AllowanceCharge"), start=1):
        where = f"document allowance/charge {number}"
        is_charge = to_indicator(
            _READER.text(element, "cbc:ChargeIndicator", where), "cbc:ChargeIndicator", where
        )
        amount = _READER.number(element, "cbc:Amount", where)
        taxes = (_tax_rate(_READER.require(element, "cac:TaxCategory", where), where),)
        reason = _READER.optional_text(element, "cbc:AllowanceChargeReason") or ""
        if is_charge:
            charges.append(DocumentCharge(amount=amount, taxes=taxes, reason=reason))
        else:
            allowances.append(DocumentAllowance(amount=amount, taxes=taxes, reason=reason))
    return tuple(allowances), tuple(charges)


def _tax_total(root: Element, currency: str) -> Element | None:
    """The TaxTotal in the document currency; a second one may give tax in accounting currency."""
    totals = _READER.findall(root, "cac:TaxTotal")
    for total in totals:
        amount = _READER.find(total, "cbc:TaxAmount")
        if amount is not None and amount.get("currencyID", currency) == currency:
            return total
    return totals[0] if totals else None


def _breakdown(tax_total: Element | None) -> tuple[StatedSubtotal, ...]:
    if tax_total is None:
        return ()
    rows = []
    for number, subtotal in enumerate(_READER.findall(tax_total, "cac:TaxSubtotal"), start=1):
        where = f"tax subtotal {number}"
        rate = _tax_rate(_READER.require(subtotal, "cac:TaxCategory", where), where)
        rows.append(
            StatedSubtotal(
                category=rate.category,
                percent=rate.percent,
                base=_READER.number(subtotal, "cbc:TaxableAmount", where),
                tax=_READER.number(subtotal, "cbc:TaxAmount", where),
            )
        )
    return tuple(rows)


def parse_ubl(root: Element) -> ParsedInvoice:
    """Read a parsed UBL ``Invoice`` or ``CreditNote`` root element."""
    credit_note = root.tag == CREDIT_NOTE
    line_path = "cac:CreditNoteLine" if credit_note else "cac:InvoiceLine"
    quantity_path = "cbc:CreditedQuantity" if credit_note else "cbc:InvoicedQuantity"

    currency = _READER.text(root, "cbc:DocumentCurrencyCode")
    line_elements = _READER.findall(root, line_path)
    if not line_elements:
        raise EInvoiceReadError(f"missing required element {line_path}")
    parsed_lines = [
        _line(element, number, quantity_path)
        for number, element in enumerate(line_elements, start=1)
    ]
    allowances, charges = _document_adjustments(root)
    tax_total = _tax_total(root, currency)
    totals = _READER.require(root, "cac:LegalMonetaryTotal")
    prepaid = _READER.optional_number(totals, "cbc:PrepaidAmount")
    rounding = _READER.optional_number(totals, "cbc:PayableRoundingAmount")

    document = DocumentInput(
        currency=currency,
        lines=tuple(line for line, _ in parsed_lines),
        allowances=allowances,
        charges=charges,
        prepaid=prepaid or Decimal(0),
        rounding_adjustment=rounding,
    )
    where = "cac:LegalMonetaryTotal"
    stated = StatedTotals(
        line_nets=tuple(net for _, net in parsed_lines),
        sum_of_line_nets=_READER.number(totals, "cbc:LineExtensionAmount", where),
        allowance_total=_READER.optional_number(totals, "cbc:AllowanceTotalAmount"),
        charge_total=_READER.optional_number(totals, "cbc:ChargeTotalAmount"),
        tax_exclusive=_READER.number(totals, "cbc:TaxExclusiveAmount", where),
        tax_total=None
        if tax_total is None
        else _READER.optional_number(tax_total, "cbc:TaxAmount", "cac:TaxTotal"),
        tax_inclusive=_READER.number(totals, "cbc:TaxInclusiveAmount", where),
        prepaid=prepaid,
        rounding=rounding,
        amount_due=_READER.number(totals, "cbc:PayableAmount", where),
        breakdown=_breakdown(tax_total),
    )
    syntax = "UBL CreditNote" if credit_note else "UBL Invoice"
    return ParsedInvoice(syntax=syntax, document=document, stated=stated)
