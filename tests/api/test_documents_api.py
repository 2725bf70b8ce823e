"""An invoice's files over the API, for a seller with everything an e-invoice needs: UBL,
XRechnung and CII whose number and total are the invoice's, and the PDF with Factur-X inside."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from lxml import etree

from portal.einvoice.pdf import xml_from_pdf
from portal.models import Document
from tests.api.conftest import Api, assert_problem, make_key
from tests.documents.conftest import pdf_text, reader
from tests.einvoice.conftest import Shop, make_shop, vat
from tests.services import factories as f

NS = {
    "ubl": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}
# Where each format keeps the invoice's number and the amount due.
NUMBER_AND_TOTAL = {
    "ubl": ("/ubl:Invoice/cbc:ID", "//cac:LegalMonetaryTotal/cbc:PayableAmount"),
    "xrechnung": ("/ubl:Invoice/cbc:ID", "//cac:LegalMonetaryTotal/cbc:PayableAmount"),
    "cii": ("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:ID", "//ram:GrandTotalAmount"),
}
# 3 x 95.50 + 20% VAT = 343.80; 2 x 12.50 + 10% VAT = 27.50.
TOTAL = Decimal("371.30")


@pytest.fixture
def shop(db: Any) -> Shop:
    return make_shop()


@pytest.fixture
def shop_api(client: FlaskClient, shop: Shop) -> Api:
    return Api(client, make_key(shop.team, ("invoices:read",)))


def _issued(shop: Shop) -> Document:
    return shop.issued(
        f.line("Design hours", "3", "95.50", tax_rate_ids=vat(shop.vat20)),
        f.line("Books", "2", "12.50", tax_rate_ids=vat(shop.vat10)),
        # XRechnung takes the buyer's reference (Leitweg-ID) from the PO number.
        po_number="04011000-12345-67",
    )


def _number_and_total(xml: bytes, fmt: str) -> tuple[str, Decimal]:
    root = etree.fromstring(xml)
    number_at, total_at = NUMBER_AND_TOTAL[fmt]
    assert root.xpath(f"count({number_at}) + count({total_at})", namespaces=NS) == 2
    number = str(root.xpath(f"string({number_at})", namespaces=NS))
    return number, Decimal(str(root.xpath(f"string({total_at})", namespaces=NS)))


@pytest.mark.parametrize("fmt", ["ubl", "xrechnung", "cii"])
def test_each_einvoice_format_carries_the_invoices_number_and_total(
    shop_api: Api, shop: Shop, fmt: str
) -> None:
    invoice = _issued(shop)
    shown = shop_api.get(f"/invoices/{invoice.public_id}").get_json()
    assert shown["total"]["minor"] == 37130
    answer = shop_api.get(f"/invoices/{invoice.public_id}/einvoice/{fmt}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/xml"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="{invoice.number}-{fmt}.xml"'
    )
    assert _number_and_total(answer.data, fmt) == (shown["number"], TOTAL)


def test_the_pdf_shows_the_number_and_total_and_carries_factur_x(shop_api: Api, shop: Shop) -> None:
    invoice = _issued(shop)
    answer = shop_api.get(f"/invoices/{invoice.public_id}/pdf")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF-")
    text = pdf_text(answer.data)
    assert invoice.number and invoice.number in text
    assert "€371.30" in text
    assert "factur-x.xml" in reader(answer.data).attachments
    assert _number_and_total(xml_from_pdf(answer.data), "cii") == (invoice.number, TOTAL)


def test_a_draft_has_a_plain_pdf_and_no_einvoice(shop_api: Api, shop: Shop) -> None:
    draft = f.draft(shop.owner, shop.client, f.line(tax_rate_ids=vat(shop.vat20)))
    answer = shop_api.get(f"/invoices/{draft.public_id}/pdf")
    assert answer.status_code == 200
    assert "€120.00" in pdf_text(answer.data)
    assert reader(answer.data).attachments == {}
    assert_problem(shop_api.get(f"/invoices/{draft.public_id}/einvoice/ubl"), 422)
