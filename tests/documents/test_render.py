# ruff: noqa: RUF001  (typographic dashes and quotes are what the reader sees)
"""What a reader sees in the PDFs: numbers, parties, totals, tax rows, stamps, language."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from portal.documents.render import DESIGNS, render_pdf, render_statement_pdf
from portal.extensions import db
from portal.models import Client
from portal.services import credit_notes, quotes
from tests.documents.conftest import (
    draft_invoice,
    invoice_with_tax,
    pay_in_full,
    pdf_text,
    reader,
)
from tests.services import factories


def test_an_invoice_shows_number_client_lines_tax_rows_and_totals(owner: Any, customer: Client):
    invoice = invoice_with_tax(owner, customer)

    text = pdf_text(render_pdf(invoice))

    assert "Invoice" in text
    assert invoice.number and invoice.number in text
    assert "Blue Harbor Ltd" in text and "Acme Ltd" in text
    assert "Website redesign" in text
    assert "Net total €1,028.80" in text
    assert "VAT 20% (20 % of €1,028.80) €205.76" in text
    assert "Total €1,234.56" in text
    assert "Balance due €1,234.56" in text
    assert "Page 1 of 1" in text
    assert "DRAFT" not in text and "PAID" not in text


def test_a_draft_says_draft(owner: Any, customer: Client):
    text = pdf_text(render_pdf(draft_invoice(owner, customer)))
    assert "DRAFT" in text


def test_a_paid_invoice_carries_the_paid_stamp(owner: Any, customer: Client):
    invoice = invoice_with_tax(owner, customer)
    pay_in_full(owner, invoice)
    db.session.refresh(invoice)
    assert invoice.status == "paid"

    text = pdf_text(render_pdf(invoice))

    assert "PAID" in text
    assert "Paid -€1,234.56" in text
    assert "Balance due €0.00" in text


def test_open_invoices_can_be_stamped_unpaid_or_overdue(owner: Any, customer: Client):
    fresh = invoice_with_tax(owner, customer)
    late = factories.issued_invoice(
        owner, customer, factories.line(), issue_date=date.today() - timedelta(days=90)
    )

    assert "UNPAID" in pdf_text(render_pdf(fresh, stamp_open=True))
    assert "OVERDUE" in pdf_text(render_pdf(late, stamp_open=True))
    assert "OVERDUE" not in pdf_text(render_pdf(late))


def test_a_german_client_reads_german_labels_and_numbers(owner: Any):
    client = factories.client(owner, name="Hafen GmbH", language="de", email="a@hafen.example")
    invoice = invoice_with_tax(owner, client)

    text = pdf_text(render_pdf(invoice))

    assert "Rechnung" in text
    assert "Fällig am" in text
    assert "Gesamtbetrag 1.234,56 €" in text
    assert "Seite 1 von 1" in text
    assert "Invoice" not in text


def test_french_and_spanish_clients_read_their_labels(owner: Any):
    french = factories.client(owner, name="Port SA", language="fr", email="a@port.example")
    spanish = factories.client(owner, name="Puerto SL", language="es", email="a@puerto.example")

    fr = pdf_text(render_pdf(factories.issued_invoice(owner, french, factories.line())))
    es = pdf_text(render_pdf(factories.issued_invoice(owner, spanish, factories.line())))

    assert "Facture" in fr and "Date d’échéance" in fr and "100,00 €" in fr
    assert "Factura" in es and "Fecha de vencimiento" in es


def test_the_pdf_is_pdf_a_3b_tagged_with_language_and_title(owner: Any, customer: Client):
    invoice = invoice_with_tax(owner, customer)
    pdf = reader(render_pdf(invoice))
    root = pdf.trailer["/Root"]

    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "/StructTreeRoot" in root
    assert root["/MarkInfo"]["/Marked"]
    assert root["/Lang"] == "en"
    assert pdf.metadata is not None
    assert pdf.metadata.title == f"Invoice {invoice.number} · Acme Ltd"
    assert pdf.metadata.author == "Acme Ltd"


def test_the_brand_font_is_embedded_as_a_subset(owner: Any, customer: Client, team: Any):
    team.business.font = "Source Serif 4"
    pdf = reader(render_pdf(invoice_with_tax(owner, customer)))

    fonts = [f.get_object() for f in pdf.pages[0]["/Resources"]["/Font"].values()]
    names = [str(f["/BaseFont"]) for f in fonts]
    assert any("SourceSerif4" in n or "Source-Serif-4" in n or "Source" in n for n in names), names
    for font in fonts:
        base = str(font["/BaseFont"])
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, base
        assert base.lstrip("/")[6] == "+", f"{base} is not a subset"


@pytest.mark.parametrize("design", DESIGNS)
def test_every_design_renders_the_same_facts(owner: Any, customer: Client, team: Any, design):
    team.business.design = design
    text = pdf_text(render_pdf(invoice_with_tax(owner, customer)))
    assert "Total €1,234.56" in text


def test_a_long_invoice_repeats_the_table_header_on_every_page(owner: Any, customer: Client):
    lines = [factories.line(f"Item {n}", "1", "10") for n in range(60)]
    invoice = factories.issued_invoice(owner, customer, *lines)

    pdf = reader(render_pdf(invoice))

    assert len(pdf.pages) >= 2
    for number, page in enumerate(pdf.pages, start=1):
        text = page.extract_text()
        assert "DESCRIPTION" in text
        assert f"Page {number} of {len(pdf.pages)}" in text


def test_quotes_and_credit_notes_have_their_own_titles(owner: Any, customer: Client):
    quote = factories.draft(
        owner,
        customer,
        factories.line("Audit", "1", "300"),
        kind=factories.DocumentKind.QUOTE,
        valid_until=date.today() + timedelta(days=30),
    )
    quotes.send_quote(owner, quote.public_id)
    invoice = invoice_with_tax(owner, customer)
    note = credit_notes.create_credit_note(owner, invoice.public_id, reason="Refund")
    note = credit_notes.issue_credit_note(owner, note.public_id)

    quote_text = pdf_text(render_pdf(quote))
    note_text = pdf_text(render_pdf(note))

    assert "Quote" in quote_text and "Valid until" in quote_text and "€300.00" in quote_text
    assert "Credit note" in note_text and note.number and note.number in note_text
    assert f"Credits invoice {invoice.number}" in note_text
    assert "€1,234.56" in note_text


def test_a_statement_lists_movements_running_balance_ageing_and_closing(
    owner: Any, customer: Client
):
    today = date.today()
    old = factories.issued_invoice(
        owner, customer, factories.line("Old work", "1", "100"), issue_date=today - timedelta(80)
    )
    paid = factories.issued_invoice(
        owner, customer, factories.line("Paid work", "1", "50"), issue_date=today - timedelta(10)
    )
    pay_in_full(owner, paid, on=today - timedelta(5))
    factories.issued_invoice(owner, customer, factories.line("New work", "1", "20"))
    factories.draft(owner, customer, factories.line("Not yet", "1", "999"))

    text = pdf_text(render_statement_pdf(customer, today - timedelta(30), today))

    assert "Statement" in text
    assert "Opening balance €100.00" in text  # the old invoice, before the period
    assert f"Invoice {paid.number} €50.00 €150.00" in text
    assert "Payment" in text and "€50.00 €100.00" in text
    assert "€20.00 €120.00" in text
    assert "999" not in text  # drafts are not on statements
    assert "Closing balance €120.00" in text
    # ageing on the period's end: the old invoice is 50 days late, the new one not yet due
    assert "CURRENT 1–30 DAYS 31–60 DAYS 61–90 DAYS 90+ DAYS" in text
    assert "€20.00 €0.00 €100.00 €0.00 €0.00" in text
    assert old.number not in text.split("Opening balance")[1]


def test_footer_and_payment_instructions_are_printed(owner: Any, customer: Client, team: Any):
    team.business.footer_text = "Acme Ltd, registered in Wales no. 123"
    team.business.payment_instructions = "IBAN GB00 ACME 0000 1234"

    text = pdf_text(render_pdf(invoice_with_tax(owner, customer)))

    assert "Acme Ltd, registered in Wales no. 123" in text
    assert "How to pay\nIBAN GB00 ACME 0000 1234" in text


def test_an_svg_logo_is_drawn(owner: Any, customer: Client, team: Any):
    from portal.services import branding

    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30"><text x="2" y="20">ACME LOGO</text></svg>'  # noqa: E501
    branding.upload_logo(team.actor(), svg)

    assert "ACME LOGO" in pdf_text(render_pdf(invoice_with_tax(owner, customer)))


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1/x.png", "https://example.com/a.css", "file:///etc/passwd"]
)
def test_the_renderer_fetches_nothing_but_data_and_bundled_fonts(url: str):
    from portal.documents.fonts import FONTS
    from portal.documents.render import _LocalFetcher

    with pytest.raises(ValueError, match="refusing"):
        _LocalFetcher().fetch(url)
    response = _LocalFetcher().fetch(FONTS["Inter"].file(400).as_uri())
    assert response.read(4) == b"wOF2"
    response.close()
