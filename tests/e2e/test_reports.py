"""An accountant opens a report, changes the dates, sees the table change and downloads the
Excel file, in a real browser."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from portal.models import Role
from tests.conftest import make_team
from tests.e2e.test_invoice_flow import log_in
from tests.reports.conftest import make_books

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "reports.png"


def change(page: Page, label: str, value: str) -> None:
    page.get_by_label(label).fill(value)
    expect(page.locator("#report-filters.htmx-request")).to_have_count(0)
    expect(page.get_by_label(label)).to_have_value(value)


def test_open_a_report_change_the_dates_and_download_excel(
    page: Page, app: Flask, db: Any, tmp_path: Path
) -> None:
    team = make_team("Harbor Design")
    with app.test_request_context():
        books = make_books(team)
        numbers = [books.inv1.number, books.inv3.number, books.inv2.number, books.inv4.number]
    log_in(page, team, Role.ACCOUNTANT)

    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("link", name="Invoice register").click()
    expect(page.get_by_role("heading", name="Invoice register")).to_be_visible()

    # Each change asks the server for the report; wait for the answer before the next one,
    # as a person reading the table does.
    change(page, "From", "2026-01-01")
    change(page, "To", "2026-01-31")
    table = page.locator("#report-table")
    body = table.locator("tbody tr")
    expect(body).to_have_count(3)
    expect(body.nth(0)).to_contain_text(numbers[0])
    expect(table.locator("tfoot tr[data-currency=EUR]")).to_contain_text("€525.00")
    expect(table.locator("tfoot tr[data-currency=USD]")).to_contain_text("$1,200.00")
    expect(page).to_have_url("/app/reports/invoice-register?from=2026-01-01&to=2026-01-31")
    if os.environ.get("INVOICE_LITE_SCREENSHOTS"):
        page.screenshot(path=SCREENSHOT, full_page=True)

    change(page, "From", "2026-02-01")  # after the end date: refused beside the field
    expect(page.locator("#report-to-error")).to_have_text(
        "The end of the period comes before its start."
    )
    expect(table).to_have_count(0)
    change(page, "To", "2026-02-28")
    expect(body).to_have_count(1)
    expect(body.nth(0)).to_contain_text(numbers[3])
    expect(table.locator("tfoot tr[data-currency=EUR]")).to_contain_text("€55.00")
    expect(table.locator("tfoot tr[data-currency=USD]")).to_have_count(0)
    expect(page.locator("#report-to-error")).to_have_count(0)

    with page.expect_download() as info:
        page.get_by_role("button", name="Download Excel").click()
    download = info.value
    assert download.suggested_filename == "invoice-register-2026-02-01_2026-02-28.xlsx"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    ws = load_workbook(target)["Invoice register"]
    assert ws.freeze_panes == "A2"
    assert ws["A2"].value == numbers[3]
    assert ws["H2"].value == 55 and ws["H2"].number_format == '#,##0.00 "EUR"'
    assert ws["A4"].value == "Total EUR" and ws["H4"].value == 55
