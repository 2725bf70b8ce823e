"""Sign up, then a client's whole life, in a real browser."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def sign_up(page: Page, email: str = "maria@studio.example") -> None:
    page.goto("/signup")
    page.get_by_label("Your name").fill("Maria Lopez")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_label("Business name").fill("Lopez Studio")
    page.get_by_label("Base currency").select_option("EUR")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Lopez Studio")).to_be_visible()
    expect(page.locator(".role")).to_have_text("owner")


def test_sign_up_create_find_edit_archive_and_restore_a_client(page: Page) -> None:
    sign_up(page)
    page.get_by_role("link", name="Clients", exact=True).click()
    # The filters act through htmx: wait until the new page's scripts have run.
    page.wait_for_load_state("load")
    expect(page.get_by_text("No clients yet.")).to_be_visible()
    page.get_by_role("link", name="New client").click()

    page.get_by_label("Client name").fill("Fjord Design AS")
    page.get_by_label("Billing email").fill("billing@fjord.example")
    page.locator("#contacts-0-name").fill("Ingrid Berg")
    page.locator("#contacts-0-email").fill("ingrid@fjord.example")
    page.get_by_role("button", name="Add a contact").click()
    expect(page.locator("#contacts-1-name")).to_be_visible()
    page.locator("#contacts-1-name").fill("Lars Dahl")
    page.locator("#contacts-1-email").fill("lars@fjord.example")
    page.get_by_label("Tags").fill("design, priority")
    page.get_by_role("button", name="Save client").click()

    expect(page.get_by_role("heading", name="Fjord Design AS")).to_be_visible()
    expect(page.locator(".toast")).to_contain_text("Client Fjord Design AS created.")
    contacts = page.locator("table").filter(has_text="Ingrid Berg")
    expect(contacts).to_contain_text("Lars Dahl")
    expect(contacts.locator("tr", has_text="Ingrid Berg")).to_contain_text("Primary billing")

    # A second client, so the search has something to leave out.
    page.goto("/app/clients/new")
    page.get_by_label("Client name").fill("Acme Ltd")
    page.get_by_role("button", name="Save client").click()
    expect(page.get_by_role("heading", name="Acme Ltd")).to_be_visible()

    page.get_by_role("link", name="Clients", exact=True).click()
    # The filters act through htmx: wait until the new page's scripts have run.
    page.wait_for_load_state("load")
    rows = page.locator("#client-rows tr")
    expect(rows).to_have_count(2)
    page.get_by_placeholder("Search name, email or contact").press_sequentially("lars")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Fjord Design AS")
    expect(page).to_have_url(re.compile(r"q=lars"))

    rows.first.get_by_role("link", name="Fjord Design AS").click()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Phone", exact=True).fill("+47 22 00 00 00")
    page.get_by_role("button", name="Save client").click()
    expect(page.locator("dl.facts")).to_contain_text("+47 22 00 00 00")
    expect(page.locator(".timeline")).to_contain_text("updated by maria@studio.example")

    page.get_by_role("button", name="Archive").click()
    expect(page.locator("#client-status")).to_have_text("Archived")
    expect(page.locator(".toast").last).to_contain_text("Fjord Design AS is archived.")
    page.get_by_role("link", name="Clients", exact=True).click()
    # The filters act through htmx: wait until the new page's scripts have run.
    page.wait_for_load_state("load")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Acme Ltd")
    page.locator("#client-archived").select_option("1")
    expect(rows.first).to_contain_text("Fjord Design AS")
    rows.first.get_by_role("link", name="Fjord Design AS").click()
    page.get_by_role("button", name="Restore").click()
    expect(page.locator("#client-status")).to_have_text("Active")
    page.get_by_role("link", name="Clients", exact=True).click()
    # The filters act through htmx: wait until the new page's scripts have run.
    page.wait_for_load_state("load")
    expect(rows).to_have_count(2)


def test_a_bad_client_form_shows_the_message_beside_the_field(page: Page) -> None:
    sign_up(page, "ana@studio.example")
    page.goto("/app/clients/new")
    page.get_by_label("Billing email").fill("not-an-email")
    page.get_by_role("button", name="Save client").click()
    expect(page.locator("#name-error")).to_have_text("This field is required.")
    expect(page.locator("#email-error")).to_have_text("Invalid email address.")
    page.goto("/app/clients/")
    expect(page.get_by_text("No clients yet.")).to_be_visible()
