"""Read a UN/CEFACT Cross Industry Invoice (D16B, as used by EN 16931 and Factur-X)."""

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
    to_number,
)

__all__ = ["CROSS_INDUSTRY_INVOICE", "parse_cii"]

_RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
CROSS_INDUSTRY_INVOICE = f"{{{_RSM}}}CrossIndustryInvoice"

_READER = Reader(
    {
        "rsm": _RSM,
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
        "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    }
)
_INDICATOR = "ram:ChargeIndicator/udt:Indicator"


def _tax_rate(tax: Element, where: str) -> TaxRate:
    percent = _READER.optional_number(tax, "ram:RateApplicablePercent", where)
    return TaxRate(_READER.text(tax, "ram:CategoryCode", where), percent or Decimal(0))


def _line(element: Element, number: int) -> tuple[LineInput, Decimal]:
    where = f"line {number}"
    price = _READER.require(
        element, "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice", where
    )
    settlement = _READER.require(element, "ram:SpecifiedLineTradeSettlement", where)
    base_quantity = _READER.optional_number(price, "ram:BasisQuantity", where)
    allowances: list[Decimal] = []
    charges: list[Decimal] = []
    for adjustment in _READER.findall(settlement, "ram:SpecifiedTradeAllowanceCharge"):
        is_charge = to_indicator(_READER.text(adjustment, _INDICATOR, where), _INDICATOR, where)
        amount = _READER.number(adjustment, "ram:ActualAmount", where)
        (charges if is_charge else allowances).append(amount)
    line = LineInput(
        quantity=_READER.number(
            element, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", where
        ),
        unit_price=_READER.number(price, "ram:ChargeAmount", where),
        base_quantity=Decimal(1) if base_quantity is None else base_quantity,
        discount_amount=sum(allowances, Decimal(0)) if allowances else None,
        charge_amount=sum(charges, Decimal(0)),
        taxes=(_tax_rate(_READER.require(settlement, "ram:ApplicableTradeTax", where), where),),
    )
    net = _READER.number(
        settlement,
        "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
        where,
    )
    return line, net


def _document_adjustments(
    settlement: Element,
) -> tuple[tuple[DocumentAllowance, ...], tuple[DocumentCharge, ...]]:
    allowances: list[DocumentAllowance] = []
    charges: list[DocumentCharge] = []
    elements = _READER.findall(settlement, "ram:SpecifiedTradeAllowanceCharge")
    for number, element in enumerate(elements, start=1):
        where = f"document allowance/charge {number}"
        is_charge = to_indicator(_READER.text(element, _INDICATOR, where), _INDICATOR, where)
        amount = _READER.number(element, "ram:ActualAmount", where)
        taxes = (_tax_rate(_READER.require(element, "ram:CategoryTradeTax", where), where),)
        reason = _READER.optional_text(element, "ram:Reason") or ""
        if is_charge:
            charges.append(DocumentCharge(amount=amount, taxes=taxes, reason=reason))
        else:
            allowances.append(DocumentAllowance(amount=amount, taxes=taxes, reason=reason))
    return tuple(allowances), tuple(charges)


def _breakdown(settlement: Element) -> tuple[StatedSubtotal, ...]:
    rows = []
    for number, tax in enumerate(_READER.findall(settlement, "ram:ApplicableTradeTax"), start=1):
        where = f"tax breakdown {number}"
        rate = _tax_rate(tax, where)
        rows.append(
            StatedSubtotal(
                category=rate.category,
                percent=rate.percent,
                base=_READER.number(tax, "ram:BasisAmount", where),
                tax=_READER.number(tax, "ram:CalculatedAmount", where),
            )
        )
    return tuple(rows)


def _tax_total(summation: Element, currency: str) -> Decimal | None:
    """BT-110: the TaxTotalAmount in the invoice currency (another may be in VAT currency)."""
    for element in _READER.findall(summation, "ram:TaxTotalAmount"):
        if element.get("currencyID", currency) == currency:
            return to_number((element.text or "").strip(), "ram:TaxTotalAmount")
    return None


def parse_cii(root: Element) -> ParsedInvoice:
    """Read a parsed ``rsm:CrossIndustryInvoice`` root element."""
    transaction = _READER.require(root, "rsm:SupplyChainTradeTransaction")
    settlement = _READER.require(transaction, "ram:ApplicableHeaderTradeSettlement")
    currency = _READER.text(settlement, "ram:InvoiceCurrencyCode")
    line_elements = _READER.findall(transaction, "ram:IncludedSupplyChainTradeLineItem")
    if not line_elements:
        raise EInvoiceReadError("missing required element ram:IncludedSupplyChainTradeLineItem")
    parsed_lines = [_line(element, number) for number, element in enumerate(line_elements, 1)]
    allowances, charges = _document_adjustments(settlement)
    where = "ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    summation = _READER.require(settlement, where)
    prepaid = _READER.optional_number(summation, "ram:TotalPrepaidAmount", where)
    rounding = _READER.optional_number(summation, "ram:RoundingAmount", where)

    document = DocumentInput(
        currency=currency,
        lines=tuple(line for line, _ in parsed_lines),
        allowances=allowances,
        charges=charges,
        prepaid=prepaid or Decimal(0),
        rounding_adjustment=rounding,
    )
    stated = StatedTotals(
        line_nets=tuple(net for _, net in parsed_lines),
        sum_of_line_nets=_READER.number(summation, "ram:LineTotalAmount", where),
        allowance_total=_READER.optional_number(summation, "ram:AllowanceTotalAmount", where),
        charge_total=_READER.optional_number(summation, "ram:ChargeTotalAmount", where),
        tax_exclusive=_READER.number(summation, "ram:TaxBasisTotalAmount", where),
        tax_total=_tax_total(summation, currency),
        tax_inclusive=_READER.number(summation, "ram:GrandTotalAmount", where),
        prepaid=prepaid,
        rounding=rounding,
        amount_due=_READER.number(summation, "ram:DuePayableAmount", where),
        breakdown=_breakdown(settlement),
    )
    return ParsedInvoice(syntax="CII", document=document, stated=stated)
