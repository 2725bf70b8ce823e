"""A client opens the links a business sent: reads and downloads an invoice, accepts a quote."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.models import DocumentKind, Role
from portal.services import client_portal, quotes
from tests.conftest import make_team
from tests.services import factories as f

pytestmark = pytest.mark.browser


def test_client_downloads_an_invoice_and_accepts_a_quote(page: Page, db: Any) -> None:
    team = make_team("Harbor Design")
    staff = team.actor(Role.STAFF)
    fjord = f.client(staff, name="Fjord AS")
    invoice = f.issued_invoice(staff, fjord, f.line("Design hours", "3", "95.50"))
    quote = f.draft(staff, fjord, f.line("Brochure print", "1", "400"), kind=DocumentKind.QUOTE)
    quote = quotes.send_quote(staff, quote.public_id)
    _, invoice_token = client_portal.create_link(staff, fjord.public_id, invoice.public_id)
    _, quote_token = client_portal.create_link(staff, fjord.public_id, quote.public_id)

    page.goto(f"/pay/{invoice_token}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(invoice.number or "")
    expect(page.get_by_text("Design hours")).to_be_visible()
    expect(page.locator(".topbar")).to_have_count(0)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    path = download.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(4) == b"%PDF"

    page.goto(f"/pay/{quote_token}")
    expect(page.locator("#document-status")).to_have_text("Issued")
    page.get_by_label("Your full name").first.fill("Dana Fjord")
    page.get_by_role("button", name="Accept quote").click()
    expect(page.locator("#document-status")).to_have_text("Accepted")
    expect(page.get_by_role("button", name="Accept quote")).to_have_count(0)


def test_staff_share_a_link_the_client_opens_and_then_withdraw_it(
    page: Page, browser: Any, live_server: str, db: Any
) -> None:
    from tests.e2e.test_invoice_flow import log_in

    team = make_team("Harbor Design")
    owner = team.actor()
    fjord = f.client(owner, name="Fjord AS")
    invoice = f.issued_invoice(owner, fjord, f.line("Design hours", "3", "95.50"))
    log_in(page, team, Role.STAFF)
    page.goto(f"/app/invoices/{invoice.public_id}")
    page.get_by_role("button", name="Share link").click()
    expect(page.get_by_role("heading", name="Link ready")).to_be_visible()
    url = page.locator("#share-url").input_value()
    assert "/pay/" in url

    client_side = browser.new_context()
    visitor = client_side.new_page()
    visitor.goto(url)
    expect(visitor.get_by_role("heading", level=1)).to_contain_text(invoice.number or "")

    page.get_by_role("link", name="Back to the client").click()
    page.locator("#portal-links").get_by_role("button", name="Withdraw").click()
    expect(page.locator(".toast")).to_contain_text("The link is withdrawn")
    response = visitor.goto(url)
    assert response is not None and response.status == 410
    expect(visitor.get_by_text("This link was withdrawn")).to_be_visible()
    client_side.close()
