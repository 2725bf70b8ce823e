"""An invoice from the editor to a partial payment, in a real browser."""

import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import format_currency
from playwright.sync_api import Page, expect

from portal.billing.lines import LineInput
from portal.billing.tax import TaxRate as Rule
from portal.billing.totals import DocumentInput, compute_totals
from portal.models import Role
from tests.conftest import PASSWORD, Team, make_team
from tests.services import factories as f

pytestmark = pytest.mark.browser


def eur(minor: int) -> str:
    return format_currency(Decimal(minor).scaleb(-2), "EUR", locale="en")


def log_in(page: Page, team: Team, role: Role = Role.OWNER) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(team.users[role].email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".role")).to_have_text(role.value)


def fill_line(page: Page, index: int, description: str, qty: str, price: str) -> None:
    line = page.locator(f"#line-{index}")
    line.get_by_label("Description").fill(description)
    line.get_by_label("Quantity").fill(qty)
    line.get_by_label("Unit price").fill(price)


def test_three_lines_totals_match_the_engine_then_issue_and_pay_part(page: Page, db) -> None:
    team = make_team("Harbor Design")
    owner = team.actor()
    f.client(owner, name="Fjord AS")
    f.tax_rate(owner, "VAT 19%", "19")
    f.tax_rate(owner, "Eco levy 2%", "2")
    log_in(page, team)

    page.get_by_role("link", name="Invoices", exact=True).click()
    page.get_by_role("link", name="New invoice").click()
    page.wait_for_load_state("load")  # the editor acts through htmx
    page.get_by_label("Client", exact=True).select_option(label="Fjord AS")
    expect(page.get_by_label("Currency")).to_have_value("EUR")

    fill_line(page, 0, "Design hours", "3", "95.50")
    page.locator("#line-0").get_by_label("Discount %").fill("10")
    page.locator("#line-0").get_by_label("Taxes").select_option(label="VAT 19%")
    page.get_by_role("button", name="Add a line").click()
    fill_line(page, 1, "Printed brochures", "250", "1.234")
    page.locator("#line-1").get_by_label("Taxes").select_option(label=["VAT 19%", "Eco levy 2%"])
    page.get_by_role("button", name="Add a line").click()
    fill_line(page, 2, "Workshop (gross price)", "1", "1190")
    page.locator("#line-2").get_by_label("Taxes").select_option(label="VAT 19%")
    page.locator("#line-2").get_by_label("Price includes tax").check()

    vat, levy = Rule("S", Decimal(19), "VAT 19%"), Rule("S", Decimal(2), "Eco levy 2%")
    expected = compute_totals(
        DocumentInput(
            currency="EUR",
            lines=(
                LineInput(
                    quantity=Decimal(3),
                    unit_price=Decimal("95.50"),
                    discount_percent=Decimal(10),
                    taxes=(vat,),
                ),
                LineInput(quantity=Decimal(250), unit_price=Decimal("1.234"), taxes=(vat, levy)),
                LineInput(
                    quantity=Decimal(1),
                    unit_price=Decimal(1190),
                    taxes=(vat,),
                    price_includes_tax=True,
                ),
            ),
        )
    )
    totals = page.locator("#totals")
    expect(totals.locator('[data-total="total"]')).to_have_text(eur(expected.tax_inclusive.minor))
    expect(totals.locator('[data-total="net"]')).to_have_text(eur(expected.tax_exclusive.minor))
    expect(totals.locator('[data-total="tax"]')).to_have_text(eur(expected.tax_total.minor))
    for index, row in enumerate(expected.breakdown):
        expect(totals.locator(f'[data-total="tax-{index}"]')).to_have_text(eur(row.tax.minor))
    for index, line in enumerate(expected.lines):
        expect(page.locator(f"#line-total-{index}")).to_have_text(eur(line.total.minor))

    # A bad quantity shows beside its line and keeps the draft unsaved.
    page.locator("#line-1").get_by_label("Quantity").fill("1.23456")
    expect(page.locator("#line-error-1")).to_contain_text(
        "Quantity has more than 4 decimal places."
    )
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#line-error-1")).to_contain_text(
        "Quantity has more than 4 decimal places."
    )
    page.locator("#line-1").get_by_label("Quantity").fill("250")
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_role("heading", name="Draft invoice")).to_be_visible()
    detail = page.locator("#document-totals")
    expect(detail.locator('[data-total="total"]')).to_have_text(eur(expected.tax_inclusive.minor))
    page.get_by_role("button", name="Issue invoice").click()
    expect(page.locator(".toast")).to_contain_text("Invoice INV-")
    expect(page.locator("#invoice-status")).to_have_text("Issued")

    page.get_by_label("Amount (EUR)").fill("500")
    page.get_by_role("button", name="Record payment").click()
    expect(page.locator("#invoice-status")).to_have_text("Partially paid")
    expect(page.locator("#invoice-balance")).to_have_text(eur(expected.amount_due.minor - 50000))
    expect(page.locator("#invoice-timeline")).to_contain_text(
        "issued by owner@harbor-design.example"
    )

    page.get_by_label("Number of monthly instalments").fill("3")
    page.get_by_role("button", name="Split into instalments").click()
    expect(page.locator(".toast")).to_contain_text("Split into 3 monthly instalments.")
    plan = page.locator("#instalments tbody tr")
    expect(plan).to_have_count(3)
    # The 500 paid fills the first instalment first.
    third = expected.amount_due.minor // 3
    expect(plan.nth(0).locator("td").nth(3)).to_have_text(eur(min(50000, third)))

    page.get_by_role("link", name="Invoices", exact=True).click()
    expect(page.locator('.status-counts [data-status="partially_paid"]')).to_contain_text("1")
    expect(page.locator("#invoice-rows tr")).to_have_count(1)


def test_convert_a_quote_then_a_credit_note_lowers_the_balance(page: Page, db) -> None:
    team = make_team("Harbor Design")
    team.business.country = "DE"  # e-invoices name both parties' countries
    owner = team.actor()
    f.client(owner, name="Fjord AS", billing_country="NO")
    f.tax_rate(owner, "VAT 20%", "20")
    log_in(page, team)

    page.get_by_role("link", name="Quotes", exact=True).click()
    page.get_by_role("link", name="New quote").click()
    page.wait_for_load_state("load")  # the editor acts through htmx
    page.get_by_label("Client", exact=True).select_option(label="Fjord AS")
    fill_line(page, 0, "Website redesign", "4", "250")
    page.locator("#line-0").get_by_label("Taxes").select_option(label="VAT 20%")
    expect(page.locator('#totals [data-total="total"]')).to_have_text(eur(120000))
    page.get_by_role("button", name="Save draft").click()

    expect(page.locator("#quote-status")).to_have_text("Draft")
    page.get_by_role("button", name="Mark as sent").click()
    expect(page.locator("#quote-status")).to_have_text("Sent")
    page.get_by_label("Accepted by (name)").fill("Ingrid Berg")
    page.get_by_role("button", name="Record acceptance").click()
    expect(page.locator("#quote-status")).to_have_text("Accepted")
    page.get_by_role("button", name="Convert to invoice").click()

    expect(page.locator(".toast")).to_contain_text("Invoice drafted from the quote.")
    expect(page.locator('#document-totals [data-total="total"]')).to_have_text(eur(120000))
    page.get_by_role("button", name="Issue invoice").click()
    expect(page.locator("#invoice-status")).to_have_text("Issued")
    expect(page.locator("#invoice-balance")).to_have_text(eur(120000))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename.startswith("invoice-INV-")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    page.get_by_text("Export", exact=True).click()
    with page.expect_download() as download:
        page.get_by_role("link", name="UBL 2.1 XML").click()
    assert b"<Invoice" in Path(download.value.path()).read_bytes()

    # Credit one of the four units: 250 + 20 % = 300.
    page.get_by_label("Website redesign").fill("1")
    page.get_by_label("Reason").last.fill("One page dropped")
    page.get_by_role("button", name="Create credit note").click()
    expect(page.locator("#credit-note-status")).to_have_text("Draft")
    expect(page.locator('#document-totals [data-total="total"]')).to_have_text(eur(30000))
    page.get_by_role("button", name="Issue credit note").click()
    expect(page.locator("#credit-note-status")).to_have_text("Issued")
    expect(page.locator("#credit-remaining")).to_have_text(eur(0))

    page.get_by_role("link", name="INV-", exact=False).first.click()
    expect(page.locator("#invoice-balance")).to_have_text(eur(90000))
    expect(page.locator("#document-totals")).to_contain_text(f"\N{MINUS SIGN}{eur(30000)}")


def test_download_many_invoices_as_a_zip_with_progress(page: Page, db) -> None:
    team = make_team("Harbor Design")
    owner = team.actor()
    client = f.client(owner, name="Fjord AS")
    for price in ("100", "200", "300"):
        f.issued_invoice(owner, client, f.line(price=price))
    log_in(page, team, Role.VIEWER)
    page.get_by_role("link", name="Invoices", exact=True).click()
    page.get_by_role("button", name="Download PDFs (ZIP)").click()
    expect(page.get_by_role("heading", name="Invoices as a ZIP of PDFs")).to_be_visible()
    expect(page.locator("#job-state")).to_contain_text("Done: 3 of 3.")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the ZIP").click()
    with zipfile.ZipFile(download.value.path()) as archive:
        assert len(archive.namelist()) == 3
