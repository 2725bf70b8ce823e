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


def test_set_up_the_business_s_outgoing_email_and_send_a_test(
    page: Page, db, app, smtp_server, monkeypatch
) -> None:
    import socket

    from portal.services import mail_settings

    def resolve(host, port, **kwargs):
        assert host == "smtp.harbor-mail.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0))]

    monkeypatch.setattr(mail_settings, "resolve", resolve)
    team = make_team("Harbor Mail")
    admin = team.users[Role.ADMIN]

    page.goto("/login")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".role")).to_have_text("admin")

    page.goto("/app/settings/delivery")
    form = page.locator("#outgoing-email")
    form.get_by_label("SMTP server").fill("smtp.harbor-mail.example")
    form.get_by_label("Port").fill("465")
    form.get_by_label("Security").select_option("tls")
    form.get_by_label("Username").fill("billing@harbor-mail.example")
    form.get_by_label("Password", exact=True).fill("app-password-123")
    form.get_by_label("From address").fill("Harbor Billing <billing@harbor-mail.example>")
    form.get_by_label("Bounce address (Return-Path)").fill("bounces@harbor-mail.example")
    form.get_by_label("Add an open-tracking pixel to emails").uncheck()
    form.get_by_role("button", name="Save outgoing email").click()

    expect(page.locator(".toast")).to_contain_text("Outgoing email settings saved.")
    form = page.locator("#outgoing-email")
    expect(form.get_by_label("SMTP server")).to_have_value("smtp.harbor-mail.example")
    expect(form.get_by_label("Port")).to_have_value("465")
    expect(form.get_by_label("Security")).to_have_value("tls")
    expect(form.get_by_label("Username")).to_have_value("billing@harbor-mail.example")
    expect(form.get_by_label("Password", exact=True)).to_have_value("")
    expect(form.locator("#password-state")).to_have_text("A password is saved.")
    expect(form.get_by_label("From address")).to_have_value(
        "Harbor Billing <billing@harbor-mail.example>"
    )
    expect(form.get_by_label("Bounce address (Return-Path)")).to_have_value(
        "bounces@harbor-mail.example"
    )
    expect(form.get_by_label("Add an open-tracking pixel to emails")).not_to_be_checked()
    assert "app-password-123" not in page.content()

    # A bad port comes back beside the field, and nothing is saved.
    form.get_by_label("Port").fill("70000")
    form.get_by_role("button", name="Save outgoing email").click()
    expect(page.locator("#smtp_port-error")).to_have_text("Choose a port between 1 and 65535.")

    # Pointed at the local test server, the test button answers in place (htmx).
    controller, inbox = smtp_server
    inbox.deliveries.clear()
    monkeypatch.setitem(app.config, "SMTP_ALLOW_PRIVATE_HOSTS", True)
    page.goto("/app/settings/delivery")
    form = page.locator("#outgoing-email")
    form.get_by_label("SMTP server").fill("127.0.0.1")
    form.get_by_label("Port").fill(str(controller.port))
    form.get_by_label("Security").select_option("none")
    form.get_by_label("Username").fill("")
    form.get_by_label("Remove the saved password").check()
    form.get_by_role("button", name="Save outgoing email").click()
    expect(page.locator(".toast")).to_contain_text("Outgoing email settings saved.")
    page.get_by_role("button", name="Send a test email").click()
    expect(page.locator("#mail-test-result")).to_contain_text(f"Sent to {admin.email}")
    expect(page).to_have_url("/app/settings/delivery#outgoing-email")
    [received] = inbox.deliveries
    assert received.rcpt_tos == [admin.email]
    assert received.message["From"] == "Harbor Billing <billing@harbor-mail.example>"
