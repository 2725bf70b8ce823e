"""The invoice PDF a client downloads carries its e-invoice: Factur-X EN 16931 inside."""

from decimal import Decimal
from typing import Any

from lxml import etree

from portal.einvoice.pdf import xml_from_pdf
from portal.models import Client, Role
from tests.documents.conftest import draft_invoice, invoice_with_tax, pdf_text

RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"


def _grand_total(xml: bytes) -> Decimal:
    root = etree.fromstring(xml)
    (value,) = root.xpath("//ram:GrandTotalAmount/text()", namespaces={"ram": RAM})
    return Decimal(value)


def test_an_issued_invoice_pdf_embeds_its_cii_xml(
    login: Any, owner: Any, team: Any, customer: Client
) -> None:
    team.business.country = "DE"
    customer.billing_country = "FR"
    invoice = invoice_with_tax(owner, customer)
    response = login(Role.VIEWER).get(f"/app/invoices/{invoice.public_id}/pdf")
    assert response.status_code == 200
    assert "1,234.56" in pdf_text(response.data)
    assert _grand_total(xml_from_pdf(response.data)) == Decimal("1234.56")


def test_a_draft_stays_a_plain_pdf(login: Any, owner: Any, customer: Client) -> None:
    draft = draft_invoice(owner, customer)
    response = login(Role.VIEWER).get(f"/app/invoices/{draft.public_id}/pdf")
    assert response.status_code == 200
    assert b"factur-x.xml" not in response.data


def test_the_factur_x_pdf_holds_one_pdf_not_two(owner: Any, team: Any, customer: Client) -> None:
    from portal.documents.render import render_pdf
    from portal.einvoice.pdf import attach_facturx
    from portal.einvoice.write_cii import cii_xml
    from portal.services.einvoices import data_for

    team.business.country = "DE"
    customer.billing_country = "FR"
    invoice = invoice_with_tax(owner, customer)
    plain = render_pdf(invoice)
    combined = attach_facturx(plain, cii_xml(data_for(invoice)))
    assert combined.count(b"%PDF-") == 1
    assert len(combined) < len(plain) + 40_000
