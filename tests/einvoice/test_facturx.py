"""Factur-X: the CII embedded in a PDF/A-3, and read back out of it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from facturx import get_facturx_xml_from_pdf
from pypdf import PdfReader

from portal.einvoice.pdf import attach_facturx, xml_from_pdf
from portal.einvoice.source import EInvoiceReadError
from portal.einvoice.write_cii import cii_xml
from portal.services import einvoices
from tests.einvoice.conftest import Shop, pdf_a3, vat
from tests.services import factories as f


def test_attach_facturx_embeds_the_xml_as_pdfa3(shop: Shop) -> None:
    doc = shop.issued(f.line(tax_rate_ids=vat(shop.vat20)))
    xml = cii_xml(einvoices.data_for(doc))
    result = attach_facturx(pdf_a3(doc.number), xml)

    assert result.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(result))
    assert reader.attachments["factur-x.xml"] == [xml]
    metadata = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in metadata
    assert b"EN 16931" in metadata
    assert xml_from_pdf(result) == xml
    assert get_facturx_xml_from_pdf(result, check_xsd=True) == ("factur-x.xml", xml)


def test_attach_refuses_xml_that_is_not_factur_x() -> None:
    with pytest.raises(Exception, match="not valid against the official XML Schema"):
        attach_facturx(
            pdf_a3(),
            b'<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:'
            b'data:standard:CrossIndustryInvoice:100"/>',
        )


def test_a_plain_pdf_has_no_xml(db: Any) -> None:
    with pytest.raises(EInvoiceReadError, match="the PDF carries no embedded e-invoice XML"):
        xml_from_pdf(pdf_a3())


def test_a_file_that_is_not_a_pdf() -> None:
    with pytest.raises(EInvoiceReadError, match="not a PDF: the file does not start with %PDF-"):
        xml_from_pdf(b"GIF89a not a pdf")


def test_a_truncated_pdf_is_unreadable() -> None:
    with pytest.raises(EInvoiceReadError, match="not a readable PDF"):
        xml_from_pdf(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
