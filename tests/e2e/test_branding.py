"""Brand the documents in a real browser: logo, colour, own text with live preview, then the PDF."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.models import Role
from tests.conftest import PASSWORD, make_team
from tests.documents.conftest import invoice_with_tax, pdf_text, reader
from tests.documents.test_logo import image_bytes
from tests.services import factories

pytestmark = pytest.mark.browser


def test_brand_the_invoice_and_download_its_pdf(page: Page, db: Any) -> None:
    team = make_team("Lopez Studio")
    owner = team.actor(Role.OWNER)
    invoice = invoice_with_tax(owner, factories.client(owner, name="Fjord Design AS"))
    invoice_url = f"/app/invoices/{invoice.public_id}/pdf"

    page.goto("/login")
    page.get_by_label("Email").fill(team.users[Role.ADMIN].email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/app/settings/branding/")

    page.get_by_label("Logo").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": image_bytes("PNG", (120, 40))}
    )
    page.get_by_role("button", name="Upload logo").click()
    expect(page.locator(".toast")).to_contain_text("Logo saved.")
    expect(page.get_by_role("img", name="Current logo")).to_be_visible()

    page.get_by_label("Brand colour").fill("not a colour")
    page.get_by_role("button", name="Save branding").click()
    expect(page.locator("#brand_color-error")).to_contain_text("Enter a colour as #rrggbb")
    page.get_by_label("Brand colour").fill("#0a7f5a")
    page.get_by_label("Design").select_option("modern")
    page.get_by_role("button", name="Save branding").click()
    expect(page.locator(".toast")).to_contain_text("Branding saved.")

    page.get_by_role("link", name="Invoice", exact=True).click()
    page.wait_for_load_state("load")  # the preview follows typing through htmx
    editor = page.get_by_label("Text (Markdown)")
    preview = page.locator("#template-preview")
    editor.fill("Hello **{{ client.name }}**, please pay {{ invoice.total }}.")
    expect(preview.locator("strong")).to_have_text("Blue Harbor GmbH")
    expect(preview).to_contain_text("please pay €1,234.56.")
    editor.press_sequentially("\n{{ config }}")
    expect(preview.get_by_role("alert")).to_contain_text("Line 2: “config” is not a placeholder.")
    editor.fill("Hello **{{ client.name }}**, please pay {{ invoice.total }}.")
    expect(preview.locator("strong")).to_have_text("Blue Harbor GmbH")
    page.get_by_role("button", name="Save text").click()
    expect(page.locator(".toast")).to_contain_text("Invoice template saved.")

    response = page.request.get(invoice_url)
    assert response.ok and response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    assert "Hello Fjord Design AS, please pay €1,234.56." in pdf_text(pdf)
    first_page = reader(pdf).pages[0]
    assert any(
        x.get_object()["/Subtype"] == "/Image"
        for x in first_page["/Resources"]["/XObject"].values()
    )
