"""Read who, when and what from an e-invoice: the parties, number, dates and line texts.

The totals reader (``ubl.py``/``cii.py``) gives the figures; this gives everything an import
needs around them. It never raises for a missing element: the validator reports those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from xml.etree.ElementTree import Element

from portal.einvoice.cii import CROSS_INDUSTRY_INVOICE
from portal.einvoice.model import Address, Party
from portal.einvoice.source import Reader
from portal.einvoice.ubl import CREDIT_NOTE

__all__ = ["CII_NS", "UBL_NS", "InvoiceDetails", "LineDetails", "parse_date", "read_details"]

UBL_NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
CII_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
_UBL = Reader(UBL_NS)
_CII = Reader(CII_NS)


@dataclass(frozen=True, slots=True)
class LineDetails:
    name: str
    description: str
    unit_code: str


@dataclass(frozen=True, slots=True)
class InvoiceDetails:
    number: str
    type_code: str
    is_credit_note: bool
    issue_date: date | None
    due_date: date | None
    currency: str
    seller: Party
    buyer: Party
    buyer_reference: str
    order_reference: str
    preceding_invoice: str
    note: str
    payment_terms: str
    lines: tuple[LineDetails, ...]


def parse_date(text: str | None, compact: bool = False) -> date | None:
    """``YYYY-MM-DD`` (UBL) or ``YYYYMMDD`` (CII format 102); ``None`` when absent or invalid."""
    if not text:
        return None
    try:
        if compact:
            return datetime.strptime(text, "%Y%m%d").date()
        return date.fromisoformat(text)
    except ValueError:
        return None


def _t(reader: Reader, parent: Element | None, path: str) -> str:
    if parent is None:
        return ""
    return reader.optional_text(parent, path) or ""


def _ubl_party(root: Element, wrapper: str) -> Party:
    party = _UBL.find(root, f"cac:{wrapper}/cac:Party")
    address = None if party is None else _UBL.find(party, "cac:PostalAddress")
    tax_ids = [] if party is None else _UBL.findall(party, "cac:PartyTaxScheme")
    vat = [s for s in tax_ids if _t(_UBL, s, "cac:TaxScheme/cbc:ID") == "VAT"]
    endpoint = None if party is None else _UBL.find(party, "cbc:EndpointID")
    email = _t(_UBL, party, "cac:Contact/cbc:ElectronicMail")
    if endpoint is not None and endpoint.get("schemeID") == "EM":
        email = (endpoint.text or "").strip() or email
    return Party(
        name=_t(_UBL, party, "cac:PartyLegalEntity/cbc:RegistrationName")
        or _t(_UBL, party, "cac:PartyName/cbc:Name"),
        address=Address(
            line1=_t(_UBL, address, "cbc:StreetName"),
            line2=_t(_UBL, address, "cbc:AdditionalStreetName"),
            city=_t(_UBL, address, "cbc:CityName"),
            postal_code=_t(_UBL, address, "cbc:PostalZone"),
            country=_t(_UBL, address, "cac:Country/cbc:IdentificationCode"),
        ),
        tax_id=_t(_UBL, next(iter(vat or tax_ids), None), "cbc:CompanyID"),
        email=email,
        contact_name=_t(_UBL, party, "cac:Contact/cbc:Name"),
        phone=_t(_UBL, party, "cac:Contact/cbc:Telephone"),
    )


def _ubl(root: Element) -> InvoiceDetails:
    credit = root.tag == CREDIT_NOTE
    lines = []
    for line in _UBL.findall(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine"):
        quantity = _UBL.find(line, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity")
        lines.append(
            LineDetails(
                name=_t(_UBL, line, "cac:Item/cbc:Name"),
                description=_t(_UBL, line, "cac:Item/cbc:Description"),
                unit_code=(quantity.get("unitCode", "") if quantity is not None else ""),
            )
        )
    type_code = _t(_UBL, root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode")
    return InvoiceDetails(
        number=_t(_UBL, root, "cbc:ID"),
        type_code=type_code,
        is_credit_note=credit or type_code == "381",
        issue_date=parse_date(_t(_UBL, root, "cbc:IssueDate")),
        due_date=parse_date(
            _t(_UBL, root, "cbc:DueDate") or _t(_UBL, root, "cac:PaymentMeans/cbc:PaymentDueDate")
        ),
        currency=_t(_UBL, root, "cbc:DocumentCurrencyCode"),
        seller=_ubl_party(root, "AccountingSupplierParty"),
        buyer=_ubl_party(root, "AccountingCustomerParty"),
        buyer_reference=_t(_UBL, root, "cbc:BuyerReference"),
        order_reference=_t(_UBL, root, "cac:OrderReference/cbc:ID"),
        preceding_invoice=_t(
            _UBL, root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"
        ),
        note="\n".join((n.text or "").strip() for n in _UBL.findall(root, "cbc:Note")),
        payment_terms=_t(_UBL, root, "cac:PaymentTerms/cbc:Note"),
        lines=tuple(lines),
    )


def _cii_party(agreement: Element | None, name: str) -> Party:
    party = None if agreement is None else _CII.find(agreement, f"ram:{name}")
    address = None if party is None else _CII.find(party, "ram:PostalTradeAddress")
    registrations = (
        [] if party is None else _CII.findall(party, "ram:SpecifiedTaxRegistration/ram:ID")
    )
    vat = [r for r in registrations if r.get("schemeID") == "VA"]
    chosen = next(iter(vat or registrations), None)
    return Party(
        name=_t(_CII, party, "ram:Name"),
        address=Address(
            line1=_t(_CII, address, "ram:LineOne"),
            line2=_t(_CII, address, "ram:LineTwo"),
            city=_t(_CII, address, "ram:CityName"),
            postal_code=_t(_CII, address, "ram:PostcodeCode"),
            country=_t(_CII, address, "ram:CountryID"),
        ),
        tax_id="" if chosen is None else (chosen.text or "").strip(),
        email=_t(_CII, party, "ram:URIUniversalCommunication/ram:URIID")
        or _t(_CII, party, "ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID"),
        contact_name=_t(_CII, party, "ram:DefinedTradeContact/ram:PersonName"),
        phone=_t(
            _CII,
            party,
            "ram:DefinedTradeContact/ram:TelephoneUniversalCommunication/ram:CompleteNumber",
        ),
    )


def _cii(root: Element) -> InvoiceDetails:
    document = _CII.find(root, "rsm:ExchangedDocument")
    transaction = _CII.find(root, "rsm:SupplyChainTradeTransaction")
    agreement = (
        None
        if transaction is None
        else _CII.find(transaction, "ram:ApplicableHeaderTradeAgreement")
    )
    settlement = (
        None
        if transaction is None
        else _CII.find(transaction, "ram:ApplicableHeaderTradeSettlement")
    )
    lines = []
    items = (
        []
        if transaction is None
        else _CII.findall(transaction, "ram:IncludedSupplyChainTradeLineItem")
    )
    for item in items:
        quantity = _CII.find(item, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity")
        lines.append(
            LineDetails(
                name=_t(_CII, item, "ram:SpecifiedTradeProduct/ram:Name"),
                description=_t(_CII, item, "ram:SpecifiedTradeProduct/ram:Description"),
                unit_code=quantity.get("unitCode", "") if quantity is not None else "",
            )
        )
    type_code = _t(_CII, document, "ram:TypeCode")
    notes = [] if document is None else _CII.findall(document, "ram:IncludedNote/ram:Content")
    return InvoiceDetails(
        number=_t(_CII, document, "ram:ID"),
        type_code=type_code,
        is_credit_note=type_code == "381",
        issue_date=parse_date(_t(_CII, document, "ram:IssueDateTime/udt:DateTimeString"), True),
        due_date=parse_date(
            _t(
                _CII,
                settlement,
                "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
            ),
            True,
        ),
        currency=_t(_CII, settlement, "ram:InvoiceCurrencyCode"),
        seller=_cii_party(agreement, "SellerTradeParty"),
        buyer=_cii_party(agreement, "BuyerTradeParty"),
        buyer_reference=_t(_CII, agreement, "ram:BuyerReference"),
        order_reference=_t(
            _CII, agreement, "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"
        ),
        preceding_invoice=_t(
            _CII, settlement, "ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
        ),
        note="\n".join((n.text or "").strip() for n in notes),
        payment_terms=_t(_CII, settlement, "ram:SpecifiedTradePaymentTerms/ram:Description"),
        lines=tuple(lines),
    )


def read_details(root: Element) -> InvoiceDetails:
    """Details of a UBL Invoice/CreditNote or CII CrossIndustryInvoice root element."""
    return _cii(root) if root.tag == CROSS_INDUSTRY_INVOICE else _ubl(root)
