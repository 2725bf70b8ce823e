"""Importing e-invoices in a real browser: a supplier's UBL lands in the list; a broken one
shows its problems."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.models import Role
from tests.e2e.test_invoice_flow import log_in
from tests.einvoice.conftest import make_shop
from tests.einvoice.test_import import supplier_invoice

pytestmark = pytest.mark.browser


def test_upload_a_supplier_invoice_and_a_broken_one(page: Page, db: Any) -> None:
    shop = make_shop()
    good = supplier_invoice(shop)
    broken = good.replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="USD">'
    )
    log_in(page, shop.team, Role.ACCOUNTANT)

    page.goto("/app/einvoices/import")
    page.get_by_label("E-invoice file").set_input_files(
        {"name": "nordic.xml", "mimeType": "application/xml", "buffer": good}
    )
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nordic Supplies AB")
    expect(page.locator(".toast")).to_contain_text("from Nordic Supplies AB received")

    page.goto("/app/einvoices/received")
    row = page.locator("table.received tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Nordic Supplies AB")
    expect(row).to_contain_text("€13.68")
    expect(row).to_contain_text("€100.58")

    page.goto("/app/einvoices/import")
    page.get_by_label("E-invoice file").set_input_files(
        {"name": "broken.xml", "mimeType": "application/xml", "buffer": broken}
    )
    page.get_by_role("button", name="Import").click()
    table = page.locator("#import-report table.problems")
    expect(table).to_be_visible()
    problem = table.locator("tbody tr")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("PEPPOL-EN16931-R051")
    expect(problem).to_contain_text("/Invoice/cac:LegalMonetaryTotal/cbc:PayableAmount/@currencyID")
    expect(problem).to_contain_text("This amount is in USD but the invoice currency (BT-5) is EUR.")
    expect(page.locator("#import-report")).to_contain_text("Nothing was saved.")

    page.goto("/app/einvoices/received")
    expect(page.locator("table.received tbody tr")).to_have_count(1)
