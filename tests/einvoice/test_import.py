"""Importing e-invoices: supplier invoices kept, our own drafted again, everything else refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal.einvoice.pdf import attach_facturx
from portal.einvoice.write_cii import cii_xml
from portal.einvoice.write_ubl import ubl_xml
from portal.extensions import db as _db
from portal.models import (
    AuditEvent,
    Client,
    Document,
    DocumentKind,
    ReceivedDocument,
    Role,
    TaxRate,
)
from portal.services import einvoices
from portal.services.errors import Forbidden
from tests.einvoice import test_export as cases
from tests.einvoice.conftest import Shop, make_shop, pdf_a3, vat
from tests.services import factories as f

SAMPLES = Path(__file__).parent / "samples"


def supplier_invoice(us: Shop, fmt: str = "ubl", **overrides: Any) -> bytes:
    """An invoice from another business to ``us``, exported by that business."""
    supplier = make_shop("Nordic Supplies AB", tax_id="SE556677889901", country="SE", city="Malmö")
    business = us.team.business
    client = f.client(
        supplier.owner,
        name=business.legal_name,
        tax_id=business.tax_id,
        email="ap@harbor.example",
        billing_country="FR",
        billing_city="Paris",
    )
    doc = supplier.issued(
        f.line("Paper A4", "10", "4.99", tax_rate_ids=vat(supplier.vat20)),
        f.line("Books", "2", "18.50", tax_rate_ids=vat(supplier.vat10)),
        client=client,
        **overrides,
    )
    data = einvoices.data_for(doc)
    if fmt == "cii":
        return cii_xml(data)
    if fmt == "facturx":
        return attach_facturx(pdf_a3(), cii_xml(data))
    return ubl_xml(data)


def counts() -> dict[str, int]:
    return {
        model.__name__: _db.session.scalar(select(func.count()).select_from(model))
        for model in (ReceivedDocument, Document, Client, TaxRate, AuditEvent)
    }


def problems(result: einvoices.ImportResult) -> list[tuple[str, str, str]]:
    return [(p.rule, p.field, p.message) for p in result.problems if p.severity == "error"]


@pytest.mark.parametrize("fmt", ["ubl", "cii", "facturx"])
def test_a_supplier_invoice_is_received_with_its_totals(shop: Shop, fmt: str) -> None:
    data = supplier_invoice(shop, fmt)
    result = einvoices.import_einvoice(shop.team.actor(Role.ACCOUNTANT), f"in.{fmt}", data)

    assert result.status == "imported", result.as_json()
    received = result.received
    assert received is not None and result.document is None
    assert received.supplier_name == "Nordic Supplies AB"
    assert received.supplier_tax_id == "SE556677889901"
    assert received.source_format == ("ubl" if fmt == "ubl" else fmt)
    # 10 x 4.99 at 20 % and 2 x 18.50 at 10 %: 49.90 + 9.98 + 37.00 + 3.70
    assert (received.tax_minor, received.total_minor, received.amount_due_minor) == (
        1368,
        10058,
        10058,
    )
    assert received.source == data
    assert received.report["problems"] == []
    assert received.business_id == shop.team.business.id


def test_the_same_supplier_invoice_twice_is_refused(shop: Shop) -> None:
    data = supplier_invoice(shop)
    actor = shop.team.actor(Role.ACCOUNTANT)
    assert einvoices.import_einvoice(actor, "a.xml", data).imported
    before = counts()
    again = einvoices.import_einvoice(actor, "a.xml", data)
    assert again.status == "refused"
    assert re.search(
        r"Invoice INV-\d{4}-00001 from Nordic Supplies AB was already imported",
        again.problems[0].message,
    )
    assert counts() == before


@pytest.mark.parametrize("case", list(cases.CASES))
@pytest.mark.parametrize("fmt", ["ubl", "facturx"])
def test_our_own_export_comes_back_as_a_draft_with_identical_totals(
    shop: Shop, case: str, fmt: str
) -> None:
    original = cases.CASES[case](shop)
    data = einvoices.data_for(original)
    payload = ubl_xml(data) if fmt == "ubl" else attach_facturx(pdf_a3(), cii_xml(data))
    clients_before = counts()["Client"]

    result = einvoices.import_einvoice(shop.owner, f"own.{fmt}", payload)

    assert result.status == "imported", result.as_json()
    draft = result.document
    assert draft is not None and draft.status == "draft" and draft.kind is original.kind
    assert (draft.net_minor, draft.tax_minor, draft.total_minor, draft.amount_due_minor) == (
        original.net_minor,
        original.tax_minor,
        original.total_minor,
        original.amount_due_minor,
    )
    assert draft.client_id == original.client_id
    assert counts()["Client"] == clients_before
    assert [line.net_minor for line in draft.lines] == [line.net_minor for line in original.lines]
    if original.kind is DocumentKind.CREDIT_NOTE:
        assert draft.credited_invoice_id == original.credited_invoice_id
    assert draft.lines[0].description == original.lines[0].description


def test_own_export_for_an_unknown_client_creates_it(shop: Shop) -> None:
    other = make_shop("Harbor Design SARL Copy", tax_id="FR40303265045")
    doc = other.issued(
        f.line("Logo", "1", "800", tax_rate_ids=vat(other.vat20)),
        client=f.client(
            other.owner,
            name="Fresh Client SA",
            email="ap@fresh.example",
            tax_id="BE0123456749",
            billing_country="BE",
        ),
    )
    result = einvoices.import_einvoice(shop.owner, "own.xml", ubl_xml(einvoices.data_for(doc)))
    assert result.imported, result.as_json()
    client = _db.session.get(Client, result.document.client_id)
    assert (client.name, client.email, client.tax_id, client.business_id) == (
        "Fresh Client SA",
        "ap@fresh.example",
        "BE0123456749",
        shop.team.business.id,
    )
    assert result.document.total_minor == 96000


def test_an_invoice_between_strangers_is_refused(shop: Shop) -> None:
    stranger = make_shop("Other Co", tax_id="NL123456789B01", country="NL")
    doc = stranger.issued(f.line(tax_rate_ids=vat(stranger.vat20)))
    before = counts()
    result = einvoices.import_einvoice(shop.owner, "x.xml", ubl_xml(einvoices.data_for(doc)))
    assert result.status == "refused"
    assert result.problems[0].message == (
        "This invoice is from Other Co to Blue Harbor GmbH (DE811569869); neither is "
        "Harbor Design SARL (FR40303265045)."
    )
    assert counts() == before


def test_import_needs_the_accountant_role(shop: Shop) -> None:
    with pytest.raises(Forbidden, match=re.escape("This needs the accountant role or higher.")):
        einvoices.import_einvoice(shop.team.actor(Role.STAFF), "a.xml", b"<x/>")


# ---- bad input: each with its message, and nothing written


def refused(shop: Shop, data: bytes, filename: str = "in.xml") -> einvoices.ImportResult:
    before = counts()
    result = einvoices.import_einvoice(shop.owner, filename, data)
    assert counts() == before
    return result


def unreadable(shop: Shop, data: bytes, filename: str = "in.xml") -> str:
    result = refused(shop, data, filename)
    assert result.status == "unreadable"
    assert result.problems[0].rule == "file" and result.problems[0].field == filename
    return result.problems[0].message


def test_broken_xml(shop: Shop) -> None:
    message = unreadable(shop, b"<Invoice><cbc:ID>1</Invoice>")
    assert message.startswith("not well-formed XML: ")


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_xml_bomb_and_external_entity(shop: Shop, name: str) -> None:
    message = unreadable(shop, (SAMPLES / name).read_bytes())
    assert message.startswith("XML with a DTD or entity declarations is not accepted")


def test_unknown_root(shop: Shop) -> None:
    message = unreadable(shop, (SAMPLES / "unknown_root.xml").read_bytes())
    assert message.startswith(
        "unknown root element {urn:oasis:names:specification:ubl:schema:xsd:Order-2}Order"
    )


def test_wrong_namespace(shop: Shop) -> None:
    data = supplier_invoice(shop).replace(b"xsd:Invoice-2", b"xsd:Invoice-1")
    result = refused(shop, data)
    assert result.status == "refused"
    assert problems(result) == [
        (
            "namespace",
            "/Invoice",
            "The root element Invoice is in namespace "
            "'urn:oasis:names:specification:ubl:schema:xsd:Invoice-1'; expected "
            "'urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'.",
        )
    ]


def test_wrong_namespace_of_basic_components(shop: Shop) -> None:
    data = supplier_invoice(shop).replace(b"CommonBasicComponents-2", b"CommonBasicComponents-3")
    result = refused(shop, data)
    assert problems(result) == [
        (
            "namespace",
            "/Invoice/{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-3}"
            "CustomizationID",
            "CustomizationID is in namespace "
            "'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-3', which this "
            "syntax does not use: check the xmlns declarations.",
        )
    ]


def test_negative_quantity_on_a_credit_note(shop: Shop) -> None:
    note = cases.credit_note(shop)
    xml = ubl_xml(einvoices.data_for(note))
    xml = xml.replace(
        b'<cbc:CreditedQuantity unitCode="HUR">3<', b'<cbc:CreditedQuantity unitCode="HUR">-3<'
    )
    result = refused(shop, xml)
    assert result.status == "refused"
    assert (
        "quantity",
        "/CreditNote/cac:CreditNoteLine[1]/cbc:CreditedQuantity",
        "A credit note credits positive quantities; -3 would charge the buyer instead. "
        "Send an invoice for what is charged.",
    ) in problems(result)


def test_negative_quantity_on_an_invoice_is_a_returned_item(shop: Shop) -> None:
    data = supplier_invoice(shop)
    returned = data.replace(b'unitCode="C62">2<', b'unitCode="C62">-2<')
    assert returned != data
    result = refused(shop, returned)
    # Allowed on an invoice; only the stated totals now disagree with the lines.
    assert {rule for rule, _, _ in problems(result)} >= {"PEPPOL-EN16931-R120", "BR-CO-10"}
    assert not any(rule == "quantity" for rule, _, _ in problems(result))


def test_currency_mismatch(shop: Shop) -> None:
    data = supplier_invoice(shop).replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="USD">'
    )
    assert problems(refused(shop, data)) == [
        (
            "PEPPOL-EN16931-R051",
            "/Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount/@currencyID",
            "This amount is in USD but the invoice currency (BT-5) is EUR.",
        )
    ]


def test_unknown_currency(shop: Shop) -> None:
    data = supplier_invoice(shop).replace(b"EUR", b"EUX")
    assert problems(refused(shop, data)) == [
        ("BR-CL-04", "/Invoice/cbc:DocumentCurrencyCode", "'EUX' is not an ISO 4217 currency code.")
    ]


def test_missing_required_elements_are_all_listed(shop: Shop) -> None:
    data = re.sub(rb"<cbc:IssueDate>.*?</cbc:IssueDate>", b"", supplier_invoice(shop))
    data = re.sub(rb"<cac:Item>\s*<cbc:Name>Books</cbc:Name>", b"<cac:Item>", data)
    assert problems(refused(shop, data)) == [
        ("BR-03", "/Invoice/cbc:IssueDate", "Issue date (BT-2) is missing."),
        (
            "BR-25",
            "/Invoice/cac:InvoiceLine[2]/cac:Item/cbc:Name",
            "Line 2: Item name (BT-153) is missing.",
        ),
    ]


def test_missing_buyer_in_cii(shop: Shop) -> None:
    data = re.sub(
        rb"<ram:BuyerTradeParty>.*?</ram:BuyerTradeParty>",
        b"",
        supplier_invoice(shop, "cii"),
        flags=re.S,
    )
    rules = [(rule, field) for rule, field, _ in problems(refused(shop, data))]
    agreement = (
        "/CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
    )
    assert rules == [
        ("BR-07", f"{agreement}/ram:BuyerTradeParty/ram:Name"),
        ("BR-10", f"{agreement}/ram:BuyerTradeParty/ram:PostalTradeAddress"),
        ("BR-11", f"{agreement}/ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID"),
    ]


def test_non_numeric_amount(shop: Shop) -> None:
    data = re.sub(
        rb'<cbc:TaxInclusiveAmount currencyID="EUR">[^<]*<',
        b'<cbc:TaxInclusiveAmount currencyID="EUR">100,58<',
        supplier_invoice(shop),
    )
    assert problems(refused(shop, data)) == [
        (
            "schema",
            "/Invoice/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount",
            "'100,58' is not a number.",
        )
    ]


def test_wrong_totals_are_reported_by_rule(shop: Shop) -> None:
    data = supplier_invoice(shop).replace(b">100.58<", b">100.68<")
    assert problems(refused(shop, data)) == [
        ("BR-CO-15", "tax_inclusive", "The invoice states 100.68 but its lines come to 100.58."),
        ("BR-CO-16", "amount_due", "The invoice states 100.68 but its lines come to 100.58."),
    ]


def test_pdf_without_embedded_xml(shop: Shop) -> None:
    message = unreadable(shop, pdf_a3(), "plain.pdf")
    assert message == (
        "the PDF carries no embedded e-invoice XML (expected factur-x.xml or zugferd-invoice.xml): "
        "it is a plain PDF, not a Factur-X or ZUGFeRD invoice."
    )


def test_a_pdf_that_is_not_a_pdf(shop: Shop) -> None:
    assert unreadable(shop, b"PK\x03\x04 a zip file", "invoice.pdf") == (
        "not a PDF: the file does not start with %PDF-."
    )


def test_an_empty_file(shop: Shop) -> None:
    assert unreadable(shop, b"", "empty.xml") == "the file is empty."
    assert unreadable(shop, b"  \n", "blank.xml") == "the file is empty."


# ---- command line


def run_import(app: Flask, path: Path, business: str) -> tuple[int, dict[str, Any]]:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["einvoice", "import", str(path), "--business", business])
    return result.exit_code, json.loads(result.output)


def test_cli_imports_refuses_and_cannot_read(app: Flask, shop: Shop, tmp_path: Path) -> None:
    business = shop.team.business.public_id
    good = tmp_path / "good.xml"
    good.write_bytes(supplier_invoice(shop))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(good.read_bytes().replace(b"EUR", b"EUX"))
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<Invoice")

    code, report = run_import(app, good, business)
    assert code == 0 and report["status"] == "imported" and report["received"]
    code, report = run_import(app, bad, business)
    assert code == 1 and report["status"] == "refused"
    assert report["problems"][0]["rule"] == "BR-CL-04"
    code, report = run_import(app, broken, business)
    assert code == 2 and report["status"] == "unreadable"
    code, report = run_import(app, good, "nope")
    assert code == 2 and report["error"] == "no business with public id nope"
