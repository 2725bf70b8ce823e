"""Edit an email template in a real browser: the live preview, a refused placeholder, save,
the next email, reset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from portal.models import Role
from portal.services import delivery
from portal.services.clients import ContactData
from tests.conftest import PASSWORD, make_team
from tests.services import factories as f

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "email-templates.png"


def test_edit_preview_save_and_reset_the_invoice_email(page: Page, db: Any, inbox: Any) -> None:
    team = make_team("Harbor Mail")
    owner = team.actor()
    customer = f.client(
        owner, name="Fjord AS", contacts=(ContactData("Ola", "ola@fjord.example", is_primary=True),)
    )
    invoice = f.issued_invoice(owner, customer)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/login")
    page.get_by_label("Email").fill(team.users[Role.ADMIN].email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".role")).to_have_text("admin")

    page.goto("/app/settings/")
    page.get_by_role("link", name="Email templates").click()
    expect(page.locator("#email-template-invoice")).to_contain_text("Built-in")
    page.get_by_role("link", name="Invoice", exact=True).click()
    page.wait_for_load_state("load")  # the preview follows typing through htmx

    subject = page.get_by_label("Subject")
    body = page.get_by_label("Text (Markdown)")
    preview = page.locator("#email-preview")
    expect(preview.locator("#preview-subject")).to_have_text(
        "Invoice INV-2026-00042 from Harbor Mail"
    )

    subject.fill("Your bill {{ document.number }} is ready")
    expect(preview.locator("#preview-subject")).to_have_text("Your bill INV-2026-00042 is ready")
    body.fill("Hi {{ client.name }},\n\nplease pay **{invoce_number}**.")
    expect(preview.get_by_role("alert")).to_have_text(
        "Text: Line 3: {invoce_number} is not a placeholder of this email."
        " Did you mean {{ document.number }}?"
    )
    body.fill(
        "Hi {{ client.name }},\n\nplease pay **{{ document.total }}** by {{ document.due_date }}."
    )
    expect(preview.locator("#preview-html strong")).to_contain_text("€1,234.56")
    expect(preview.locator("#preview-html")).to_contain_text("Hi Blue Harbor GmbH,")
    if os.environ.get("INVOICE_LITE_SCREENSHOTS"):
        page.screenshot(path=SCREENSHOT, full_page=True)
    page.get_by_role("button", name="Save email").click()
    expect(page.locator(".toast")).to_contain_text("Invoice email saved")
    expect(subject).to_have_value("Your bill {{ document.number }} is ready")

    db.session.commit()  # end this test's read snapshot: the server has written since
    delivery.send_invoice(owner, invoice.public_id)
    [received] = inbox.deliveries
    assert received.message["Subject"] == f"Your bill {invoice.number} is ready"
    assert "Hi Fjord AS," in received.message.get_body(("plain",)).get_content()

    page.get_by_role("button", name="Reset to default").click()
    expect(page.locator(".toast")).to_contain_text("Back to the built-in email.")
    expect(subject).to_have_value("Invoice {{ document.number }} from {{ business.name }}")
    expect(page.get_by_role("button", name="Reset to default")).to_have_count(0)
    page.get_by_role("link", name="← Email templates").click()
    expect(page.locator("#email-template-invoice")).to_contain_text("Built-in")
