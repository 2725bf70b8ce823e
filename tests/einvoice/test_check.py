import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from portal.einvoice.cli import einvoice
from portal.einvoice.read import read_invoice
from portal.einvoice.source import EInvoiceReadError

SAMPLES = Path(__file__).parent / "samples"


def run(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(einvoice, ["check", *args])
    return result.exit_code, json.loads(result.output)


def rules(report: dict[str, Any]) -> list[tuple[str, str, str | None, str | None]]:
    return [(v["rule"], v["field"], v["stated"], v["computed"]) for v in report["violations"]]


@pytest.mark.parametrize(
    "name", ["ubl_invoice_ok.xml", "ubl_credit_note_kwd.xml", "cii_invoice_ok.xml"]
)
def test_correct_invoices_agree(name: str) -> None:
    code, report = run(str(SAMPLES / name))
    assert code == 0
    assert report["violations"] == []
    for field in ("sum_of_line_nets", "tax_exclusive", "tax_total", "tax_inclusive", "amount_due"):
        assert report["stated"][field] == report["computed"][field]


def test_ubl_report_shows_both_sides() -> None:
    code, report = run(str(SAMPLES / "ubl_invoice_ok.xml"))
    assert code == 0
    assert report["syntax"] == "UBL Invoice"
    assert report["computed"]["lines"] == [{"net": "120.00"}, {"net": "112.50"}, {"net": "30.00"}]
    assert report["computed"]["breakdown"] == [
        {"category": "S", "percent": "20", "base": "222.50", "tax": "44.50"},
        {"category": "Z", "percent": "0", "base": "30.00", "tax": "0.00"},
        {"category": "S", "percent": "10", "base": "8.00", "tax": "0.80"},
    ]
    assert report["computed"]["amount_due"] == "255.80"
    assert report["stated"]["prepaid"] == "50.00"


def test_cii_with_rounding_and_prepaid() -> None:
    code, report = run(str(SAMPLES / "cii_invoice_ok.xml"))
    assert code == 0
    assert report["syntax"] == "CII"
    computed = report["computed"]
    assert (computed["tax_total"], computed["rounding"], computed["amount_due"]) == (
        "19.06",
        "0.04",
        "115.00",
    )


def test_wrong_tax_subtotal_in_ubl() -> None:
    code, report = run(str(SAMPLES / "ubl_invoice_wrong_subtotal.xml"))
    assert code == 1
    assert rules(report) == [
        ("BR-CO-14", "tax_total", "45.40", "45.30"),
        ("BR-CO-15", "tax_inclusive", "305.90", "305.80"),
        ("BR-CO-16", "amount_due", "255.90", "255.80"),
        ("BR-CO-17", "breakdown[S 20%].tax", "44.60", "44.50"),
    ]


def test_wrong_line_total_in_ubl() -> None:
    code, report = run(str(SAMPLES / "ubl_invoice_wrong_line_total.xml"))
    assert code == 1
    assert rules(report) == [("BR-CO-10", "sum_of_line_nets", "262.00", "262.50")]


def test_wrong_tax_base_in_cii() -> None:
    code, report = run(str(SAMPLES / "cii_invoice_wrong_subtotal.xml"))
    assert code == 1
    assert rules(report) == [("BR-S-08", "breakdown[S 7%].base", "90.00", "88.00")]


def test_wrong_payable_in_cii() -> None:
    code, report = run(str(SAMPLES / "cii_invoice_wrong_payable.xml"))
    assert code == 1
    assert rules(report) == [("BR-CO-16", "amount_due", "114.96", "115.00")]


def test_rounding_mode_option() -> None:
    # The credit note states 1.235 KWD tax (half-up); banker's rounding gives 1.234.
    code, report = run(str(SAMPLES / "ubl_credit_note_kwd.xml"), "--rounding", "half-even")
    assert code == 1
    assert report["syntax"] == "UBL CreditNote"
    assert [v["rule"] for v in report["violations"]] == [
        "BR-CO-14",
        "BR-CO-15",
        "BR-CO-16",
        "BR-CO-17",
    ]
    assert report["computed"]["tax_total"] == "1.234"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("not_xml.xml", "not well-formed XML: syntax error: line 1, column 0"),
        ("malformed.xml", "not well-formed XML: mismatched tag: line 4, column 2"),
        ("billion_laughs.xml", "XML with a DTD or entity declarations is not accepted"),
        ("external_entity.xml", "XML with a DTD or entity declarations is not accepted"),
        ("unknown_root.xml", "unknown root element {urn:oasis:names:specification:ubl:schema"),
    ],
)
def test_unreadable_files_exit_2(name: str, message: str) -> None:
    code, report = run(str(SAMPLES / name))
    assert code == 2
    assert report["error"].startswith(message)


def test_missing_file_exits_2(tmp_path: Path) -> None:
    code, report = run(str(tmp_path / "absent.xml"))
    assert code == 2
    assert report["error"].startswith(f"cannot read {tmp_path / 'absent.xml'}")


def _edited(tmp_path: Path, sample: str, old: str, new: str) -> str:
    text = (SAMPLES / sample).read_text()
    assert old in text
    path = tmp_path / sample
    path.write_text(text.replace(old, new, 1))
    return str(path)


@pytest.mark.parametrize(
    ("sample", "old", "new", "message"),
    [
        (
            "ubl_invoice_ok.xml",
            '<cbc:PayableAmount currencyID="EUR">255.80</cbc:PayableAmount>',
            "",
            "missing required element cbc:PayableAmount in cac:LegalMonetaryTotal",
        ),
        (
            "ubl_invoice_ok.xml",
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
            "",
            "missing required element cbc:DocumentCurrencyCode",
        ),
        (
            "ubl_invoice_ok.xml",
            '<cbc:PriceAmount currencyID="EUR">12.50</cbc:PriceAmount>',
            '<cbc:PriceAmount currencyID="EUR">12,50</cbc:PriceAmount>',
            "bad number '12,50' in cbc:PriceAmount in line 1",
        ),
        (
            "ubl_invoice_ok.xml",
            '<cbc:InvoicedQuantity unitCode="HUR">10</cbc:InvoicedQuantity>',
            '<cbc:InvoicedQuantity unitCode="HUR">1e1</cbc:InvoicedQuantity>',
            "bad number '1e1' in cbc:InvoicedQuantity in line 1",
        ),
        (
            "cii_invoice_ok.xml",
            '<ram:BilledQuantity unitCode="H87">3</ram:BilledQuantity>',
            "",
            "missing required element ram:SpecifiedLineTradeDelivery/ram:BilledQuantity in line 1",
        ),
        (
            "cii_invoice_ok.xml",
            "<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>",
            "<ram:InvoiceCurrencyCode>XYZ</ram:InvoiceCurrencyCode>",
            "invalid invoice data: unknown currency code: 'XYZ'",
        ),
        (
            "cii_invoice_ok.xml",
            "<ram:CategoryCode>E</ram:CategoryCode>",
            "<ram:CategoryCode>Q</ram:CategoryCode>",
            "invalid invoice data: tax category 'Q' is not one of the EN 16931 codes",
        ),
        (
            "cii_invoice_ok.xml",
            "<ram:ActualAmount>10.00</ram:ActualAmount>",
            "<ram:ActualAmount>500.00</ram:ActualAmount>",
            "invalid invoice data: line 2: discount exceeds the line amount",
        ),
    ],
)
def test_bad_content_exits_2_naming_the_problem(
    tmp_path: Path, sample: str, old: str, new: str, message: str
) -> None:
    code, report = run(_edited(tmp_path, sample, old, new))
    assert code == 2
    assert report["error"].startswith(message), report["error"]


def test_reader_raises_a_value_error_without_the_cli() -> None:
    with pytest.raises(EInvoiceReadError, match=re.escape("not well-formed XML")):
        read_invoice(b"<Invoice")
    parsed = read_invoice((SAMPLES / "cii_invoice_ok.xml").read_bytes())
    assert parsed.document.currency == "EUR"
    assert len(parsed.document.lines) == 3
