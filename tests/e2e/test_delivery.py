"""Emailing an issued invoice from the browser: the send page, then "Sent" and the email."""

import pytest
from playwright.sync_api import Page, expect

from portal.models import Role
from portal.services.clients import ContactData
from tests.conftest import PASSWORD, make_team
from tests.services import factories as f

pytestmark = pytest.mark.browser


def test_send_an_issued_invoice_by_email(page: Page, db, inbox) -> None:
    team = make_team("Harbor Mail")
    owner = team.actor()
    customer = f.client(
        owner, name="Fjord AS", contacts=(ContactData("Ola", "ola@fjord.example", is_primary=True),)
    )
    invoice = f.issued_invoice(owner, customer)

    page.goto("/login")
    page.get_by_label("Email").fill(team.users[Role.STAFF].email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".role")).to_have_text("staff")

    page.goto(f"/app/invoices/{invoice.public_id}/email")
    expect(page.get_by_label("To")).to_have_value("ola@fjord.example")
    page.get_by_label("Message (optional)").fill("Thank you for the order.")
    page.get_by_role("button", name="Send by email").click()

    expect(page).to_have_url(f"/app/invoices/{invoice.public_id}")
    expect(page.locator("#invoice-status")).to_have_text("Sent")
    expect(page.locator(".toast")).to_contain_text("sent to ola@fjord.example")
    [received] = inbox.deliveries
    assert received.message["Subject"] == f"Invoice {invoice.number} from Harbor Mail"
    assert "Thank you for the order." in received.message.get_body(("plain",)).get_content()
