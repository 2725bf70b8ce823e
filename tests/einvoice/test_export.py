"""Issued documents as UBL 2.1, XRechnung and CII: schema-valid, read back to the same totals."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from facturx import xml_check_xsd
from lxml import etree

from portal.einvoice.check import check_invoice
from portal.einvoice.read import read_invoice
from portal.einvoice.write_cii import cii_xml
from portal.einvoice.write_ubl import XRECHNUNG, ubl_xml, xrechnung_xml
from portal.models import Document, DocumentKind
from portal.services import credit_notes, documents, einvoices
from portal.services.documents import AdjustmentData
from tests.einvoice.conftest import D, Shop, make_shop, vat
from tests.services import factories as f

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


def multi_rate(shop: Shop) -> Document:
    return shop.issued(
        f.line("Design hours", "3", "95.50", unit="hours", tax_rate_ids=vat(shop.vat20)),
        f.line("Books", "7", "12.345", tax_rate_ids=vat(shop.vat10)),
        f.line("Export crate", "1", "40", tax_rate_ids=vat(shop.zero)),
    )


def discounts_and_shipping(shop: Shop) -> Document:
    return shop.issued(
        f.line("Workshop", "2", "450", discount_percent=D("12.5"), tax_rate_ids=vat(shop.vat20)),
        f.line("Printing", "250", "1.234", discount_amount=D("8.50"), tax_rate_ids=vat(shop.vat10)),
        f.line(
            "Gross-priced ticket",
            "3",
            "39.99",
            price_includes_tax=True,
            tax_rate_ids=vat(shop.vat20),
        ),
        adjustments=(
            AdjustmentData("allowance", D("25"), "Loyalty discount", vat(shop.vat20)),
            AdjustmentData("charge", D("14.90"), "Shipping", vat(shop.vat20)),
        ),
        prepaid=D("100"),
    )


def credit_note(shop: Shop) -> Document:
    invoice = multi_rate(shop)
    note = credit_notes.create_credit_note(shop.owner, invoice.public_id, reason="Returned")
    return credit_notes.issue_credit_note(shop.owner, note.public_id)


def yen(shop: Shop) -> Document:
    client = f.client(shop.owner, name="Sakura KK", currency="JPY", billing_country="JP")
    draft = f.draft(
        shop.owner,
        client,
        f.line("Consulting", "3", "33333", tax_rate_ids=vat(shop.vat10)),
        f.line("Travel", "1", "12500", tax_rate_ids=vat(shop.vat20)),
    )
    return documents.issue_invoice(shop.owner, draft.public_id, exchange_rate=D("0.0061"))


CASES = {
    "multi-rate": multi_rate,
    "discounts-shipping": discounts_and_shipping,
    "credit-note": credit_note,
    "jpy": yen,
}


def figures(report: Any) -> dict[str, Any]:
    return {
        k: report.computed[k] for k in ("tax_exclusive", "tax_total", "tax_inclusive", "amount_due")
    }


def minor(doc: Document) -> tuple[int, int, int]:
    return doc.tax_minor, doc.total_minor, doc.amount_due_minor


def as_minor(report: Any, exp: int) -> tuple[int, int, int]:
    c = report.computed
    return tuple(
        int(Decimal(c[k]).scaleb(exp)) for k in ("tax_total", "tax_inclusive", "amount_due")
    )


@pytest.mark.parametrize("case", CASES)
def test_ubl_and_cii_are_schema_valid_and_state_the_documents_totals(db: Any, case: str) -> None:
    shop = make_shop()
    doc = CASES[case](shop)
    data = einvoices.data_for(doc)
    flavor = "ubl-2.1-creditnote" if doc.kind is DocumentKind.CREDIT_NOTE else "ubl-2.1-invoice"
    exp = 0 if doc.currency == "JPY" else 2
    for xml, check in (
        (ubl_xml(data), lambda x: xml_check_xsd(x, flavor=flavor)),
        (cii_xml(data), lambda x: xml_check_xsd(x, flavor="factur-x", level="en16931")),
    ):
        assert check(xml) is True
        report = check_invoice(read_invoice(xml))
        assert report.violations == ()
        assert as_minor(report, exp) == minor(doc)


def test_ubl_header_parties_and_lines(shop: Shop) -> None:
    doc = discounts_and_shipping(shop)
    root = etree.fromstring(ubl_xml(einvoices.data_for(doc)))
    assert root.findtext("cbc:CustomizationID", namespaces=NS) == "urn:cen.eu:en16931:2017"
    assert root.findtext("cbc:ID", namespaces=NS) == doc.number
    assert root.findtext("cbc:InvoiceTypeCode", namespaces=NS) == "380"
    assert root.findtext("cbc:DueDate", namespaces=NS) == doc.due_date.isoformat()
    seller = root.find("cac:AccountingSupplierParty/cac:Party", NS)
    assert seller.findtext("cac:PartyLegalEntity/cbc:RegistrationName", namespaces=NS) == (
        "Harbor Design SARL"
    )
    assert seller.findtext("cac:PartyTaxScheme/cbc:CompanyID", namespaces=NS) == "FR40303265045"
    buyer = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    assert buyer.findtext("cac:PostalAddress/cbc:CityName", namespaces=NS) == "Hamburg"
    assert buyer.findtext("cbc:EndpointID", namespaces=NS) == "billing@blueharbor.example"
    lines = root.findall("cac:InvoiceLine", NS)
    assert [line.findtext("cbc:LineExtensionAmount", namespaces=NS) for line in lines] == [
        f"{Decimal(line.net_minor).scaleb(-2)}" for line in doc.lines
    ]
    first = lines[0].find("cac:AllowanceCharge", NS)
    assert first.findtext("cbc:MultiplierFactorNumeric", namespaces=NS) == "12.5"
    assert first.findtext("cbc:Amount", namespaces=NS) == "112.50"
    # A tax-inclusive price is written as the line's net per its quantity (BT-146 / BT-149).
    gross = lines[2].find("cac:Price", NS)
    assert gross.findtext("cbc:BaseQuantity", namespaces=NS) == "3"
    assert gross.findtext("cbc:PriceAmount", namespaces=NS) == lines[2].findtext(
        "cbc:LineExtensionAmount", namespaces=NS
    )
    assert root.findtext("cac:LegalMonetaryTotal/cbc:PrepaidAmount", namespaces=NS) == "100.00"


def test_credit_note_refers_to_its_invoice(shop: Shop) -> None:
    note = credit_note(shop)
    root = etree.fromstring(ubl_xml(einvoices.data_for(note)))
    assert etree.QName(root).localname == "CreditNote"
    assert root.findtext("cbc:CreditNoteTypeCode", namespaces=NS) == "381"
    invoice = documents.get_document(shop.owner, note.public_id)
    reference = root.findtext(
        "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS
    )
    assert reference.startswith("INV-") and invoice.number.startswith("CN-")
    cii = etree.fromstring(cii_xml(einvoices.data_for(note)))
    assert cii.findtext(".//ram:TypeCode", namespaces=NS) == "381"
    assert cii.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=NS) == (
        reference
    )


def test_xrechnung_uses_the_po_number_as_leitweg_id(shop: Shop) -> None:
    doc = shop.issued(f.line(tax_rate_ids=vat(shop.vat20)), po_number="04011000-12345-03")
    xml = xrechnung_xml(einvoices.data_for(doc))
    root = etree.fromstring(xml)
    assert root.findtext("cbc:CustomizationID", namespaces=NS) == XRECHNUNG
    assert XRECHNUNG == "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
    assert root.findtext("cbc:BuyerReference", namespaces=NS) == "04011000-12345-03"
    assert root.find("cac:PaymentMeans", NS) is not None
    assert xml_check_xsd(xml, flavor="ubl-2.1-invoice") is True


def test_xrechnung_without_po_number_is_refused(shop: Shop) -> None:
    doc = shop.issued(f.line(tax_rate_ids=vat(shop.vat20)))
    with pytest.raises(einvoices.NotExportable, match="Leitweg-ID"):
        einvoices.export_document(shop.owner, doc.public_id, "xrechnung")


def test_line_without_tax_is_not_subject_to_vat(shop: Shop) -> None:
    doc = shop.issued(f.line("Membership fee", "1", "50"))
    root = etree.fromstring(ubl_xml(einvoices.data_for(doc)))
    category = root.find("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", NS)
    assert category.findtext("cbc:ID", namespaces=NS) == "O"
    assert category.findtext("cbc:TaxExemptionReason", namespaces=NS) == "Not subject to VAT"


def test_two_taxes_on_one_line_cannot_be_exported(shop: Shop) -> None:
    levy = f.tax_rate(shop.owner, "Eco levy 2%", "2")
    doc = shop.issued(f.line(tax_rate_ids=vat(shop.vat20, levy)))
    with pytest.raises(
        einvoices.NotExportable, match=r"Line 1 carries 2 taxes \(VAT 20%, Eco levy 2%\)"
    ):
        einvoices.data_for(doc)


def test_a_draft_cannot_be_exported(shop: Shop) -> None:
    draft = f.draft(shop.owner, shop.client)
    with pytest.raises(einvoices.NotExportable, match="still a draft: issue it first"):
        einvoices.data_for(draft)


def test_a_buyer_without_country_cannot_be_exported(shop: Shop) -> None:
    client = f.client(shop.owner, name="Nowhere Ltd")
    doc = shop.issued(f.line(tax_rate_ids=vat(shop.vat20)), client=client)
    with pytest.raises(
        einvoices.NotExportable,
        match=re.escape(
            "An e-invoice needs the buyer's country (BR-11): add a billing country to Nowhere Ltd."
        ),
    ):
        einvoices.data_for(doc)
