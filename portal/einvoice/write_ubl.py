"""Write ``EInvoiceData`` as a UBL 2.1 Invoice or CreditNote (EN 16931, optionally XRechnung).

Element order follows the UBL 2.1 schema, which is strict about sequence.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from portal.einvoice.model import EInvoiceData, Party, VatRate
from portal.einvoice.xml import amount, number, sub

__all__ = ["EN16931", "XRECHNUNG", "ubl_xml", "xrechnung_xml"]

EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL_BILLING = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return sub(parent, f"{{{CAC}}}{name}")


def _cbc(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    return sub(parent, f"{{{CBC}}}{name}", text, **attributes)


def _money(parent: etree._Element, name: str, value: Decimal, currency: str) -> None:
    _cbc(parent, name, amount(value), currencyID=currency)


def _party(parent: etree._Element, wrapper: str, party: Party) -> None:
    node = _cac(_cac(parent, wrapper), "Party")
    if party.email:
        _cbc(node, "EndpointID", party.email, schemeID="EM")
    _cbc(_cac(node, "PartyName"), "Name", party.name)
    address = _cac(node, "PostalAddress")
    if party.address.line1:
        _cbc(address, "StreetName", party.address.line1)
    if party.address.line2:
        _cbc(address, "AdditionalStreetName", party.address.line2)
    if party.address.city:
        _cbc(address, "CityName", party.address.city)
    if party.address.postal_code:
        _cbc(address, "PostalZone", party.address.postal_code)
    _cbc(_cac(address, "Country"), "IdentificationCode", party.address.country)
    if party.vat_id:
        scheme = _cac(node, "PartyTaxScheme")
        _cbc(scheme, "CompanyID", party.vat_id)
        _cbc(_cac(scheme, "TaxScheme"), "ID", "VAT")
    elif party.tax_id:
        scheme = _cac(node, "PartyTaxScheme")
        _cbc(scheme, "CompanyID", party.tax_id)
        _cbc(_cac(scheme, "TaxScheme"), "ID", "TAX")
    _cbc(_cac(node, "PartyLegalEntity"), "RegistrationName", party.name)
    if party.contact_name or party.phone or party.email:
        contact = _cac(node, "Contact")
        if party.contact_name:
            _cbc(contact, "Name", party.contact_name)
        if party.phone:
            _cbc(contact, "Telephone", party.phone)
        if party.email:
            _cbc(contact, "ElectronicMail", party.email)


def _category(parent: etree._Element, name: str, vat: VatRate, reason: bool) -> None:
    category = _cac(parent, name)
    _cbc(category, "ID", vat.category)
    _cbc(category, "Percent", number(vat.percent))
    if reason and vat.exemption_reason:
        _cbc(category, "TaxExemptionReason", vat.exemption_reason)
    _cbc(_cac(category, "TaxScheme"), "ID", "VAT")


def _allowance_charge(
    parent: etree._Element,
    is_charge: bool,
    value: Decimal,
    currency: str,
    reason: str,
    vat: VatRate | None,
    percent: Decimal | None = None,
    base: Decimal | None = None,
) -> None:
    node = _cac(parent, "AllowanceCharge")
    _cbc(node, "ChargeIndicator", "true" if is_charge else "false")
    _cbc(node, "AllowanceChargeReason", reason or ("Charge" if is_charge else "Discount"))
    if percent is not None:
        _cbc(node, "MultiplierFactorNumeric", number(percent))
    _money(node, "Amount", value, currency)
    if base is not None:
        _money(node, "BaseAmount", base, currency)
    if vat is not None:
        _category(node, "TaxCategory", vat, reason=False)


def _build(data: EInvoiceData, customization: str, xrechnung: bool) -> bytes:
    credit = data.is_credit_note
    root_ns = _CREDIT_NOTE if credit else _INVOICE
    nsmap: dict[str | None, str] = {None: root_ns, "cac": CAC, "cbc": CBC}
    # The root's namespace is the default one, as in every UBL example; lxml-stubs omit None keys.
    tag = f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}"
    root = etree.Element(tag, nsmap=nsmap)  # type: ignore[arg-type]
    currency = data.currency
    _cbc(root, "CustomizationID", customization)
    _cbc(root, "ProfileID", PEPPOL_BILLING)
    _cbc(root, "ID", data.number)
    _cbc(root, "IssueDate", data.issue_date.isoformat())
    if data.due_date is not None and not credit:
        _cbc(root, "DueDate", data.due_date.isoformat())
    _cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", data.type_code)
    if data.note:
        _cbc(root, "Note", data.note)
    _cbc(root, "DocumentCurrencyCode", currency)
    if data.po_number:
        _cbc(root, "BuyerReference", data.po_number)
        if not xrechnung:
            _cbc(_cac(root, "OrderReference"), "ID", data.po_number)
    if data.preceding_invoice:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", data.preceding_invoice)
        if data.preceding_invoice_date is not None:
            _cbc(reference, "IssueDate", data.preceding_invoice_date.isoformat())
    _party(root, "AccountingSupplierParty", data.seller)
    _party(root, "AccountingCustomerParty", data.buyer)
    if data.payment_instructions or xrechnung:
        means = _cac(root, "PaymentMeans")
        _cbc(means, "PaymentMeansCode", "1")
        if data.due_date is not None and credit:
            _cbc(means, "PaymentDueDate", data.due_date.isoformat())
        if data.payment_instructions:
            _cbc(means, "InstructionNote", data.payment_instructions)
    if data.payment_terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", data.payment_terms)
    for adjustment in data.adjustments:
        _allowance_charge(
            root,
            adjustment.is_charge,
            adjustment.amount,
            currency,
            adjustment.reason,
            adjustment.vat,
        )
    tax_total = _cac(root, "TaxTotal")
    _money(tax_total, "TaxAmount", data.totals.tax, currency)
    for row in data.breakdown:
        subtotal = _cac(tax_total, "TaxSubtotal")
        _money(subtotal, "TaxableAmount", row.base, currency)
        _money(subtotal, "TaxAmount", row.tax, currency)
        _category(subtotal, "TaxCategory", row.vat, reason=True)
    totals = _cac(root, "LegalMonetaryTotal")
    _money(totals, "LineExtensionAmount", data.totals.line_nets, currency)
    _money(totals, "TaxExclusiveAmount", data.totals.tax_exclusive, currency)
    _money(totals, "TaxInclusiveAmount", data.totals.tax_inclusive, currency)
    if data.totals.allowances:
        _money(totals, "AllowanceTotalAmount", data.totals.allowances, currency)
    if data.totals.charges:
        _money(totals, "ChargeTotalAmount", data.totals.charges, currency)
    if data.totals.prepaid:
        _money(totals, "PrepaidAmount", data.totals.prepaid, currency)
    if data.totals.rounding:
        _money(totals, "PayableRoundingAmount", data.totals.rounding, currency)
    _money(totals, "PayableAmount", data.totals.amount_due, currency)

    for line in data.lines:
        node = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
        _cbc(node, "ID", line.line_id)
        _cbc(
            node,
            "CreditedQuantity" if credit else "InvoicedQuantity",
            number(line.quantity),
            unitCode=line.unit_code,
        )
        _money(node, "LineExtensionAmount", line.net, currency)
        if line.allowance:
            gross = line.net + line.allowance - line.charge
            _allowance_charge(
                node,
                False,
                line.allowance,
                currency,
                "Discount",
                None,
                line.allowance_percent,
                gross if line.allowance_percent is not None else None,
            )
        if line.charge:
            _allowance_charge(node, True, line.charge, currency, "Charge", None)
        item = _cac(node, "Item")
        if line.description:
            _cbc(item, "Description", line.description)
        _cbc(item, "Name", line.name)
        _category(item, "ClassifiedTaxCategory", line.vat, reason=False)
        price = _cac(node, "Price")
        _cbc(price, "PriceAmount", number(line.price), currencyID=currency)
        if line.base_quantity != 1:
            _cbc(price, "BaseQuantity", number(line.base_quantity), unitCode=line.unit_code)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def ubl_xml(data: EInvoiceData) -> bytes:
    """A UBL 2.1 Invoice (or CreditNote) declaring EN 16931 conformance (BT-24)."""
    return _build(data, EN16931, xrechnung=False)


def xrechnung_xml(data: EInvoiceData) -> bytes:
    """The XRechnung 3.0 variant: the PO number is the buyer reference (Leitweg-ID, BT-10).

    Raises ``ValueError`` without one, since XRechnung requires it (BR-DE-15).
    """
    if not data.po_number:
        raise ValueError(
            "An XRechnung needs the buyer's Leitweg-ID (BR-DE-15): enter it as the PO number."
        )
    return _build(data, XRECHNUNG, xrechnung=True)
