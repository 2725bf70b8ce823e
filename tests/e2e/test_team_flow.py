"""Invite a teammate by email and work as them, in a real browser."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import Inbox
from tests.e2e.test_clients_flow import sign_up

pytestmark = pytest.mark.browser


def test_invite_a_teammate_who_logs_in_with_the_invited_role(
    page: Page, browser: Browser, live_server: str, inbox: Inbox
) -> None:
    sign_up(page)
    page.get_by_role("link", name="Team", exact=True).click()
    page.get_by_label("Email").fill("tom@studio.example")
    page.get_by_label("Role").select_option("accountant")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".toast")).to_contain_text("Invitation sent to tom@studio.example.")
    expect(page.locator("table").last).to_contain_text("tom@studio.example")

    (delivery,) = inbox.deliveries
    assert delivery.rcpt_tos == ["tom@studio.example"]
    mail = delivery.message
    assert mail["Subject"] == "Lopez Studio invites you to Invoice Lite"
    link = re.search(r"https?://\S+/invitations/\S+", mail.get_content())
    assert link is not None

    context = browser.new_context(base_url=live_server)
    tom = context.new_page()
    tom.goto(link.group(0))
    expect(tom.get_by_role("heading", name="Join Lopez Studio")).to_be_visible()
    tom.get_by_label("Your name").fill("Tom Weber")
    tom.get_by_label("Password").fill("tom's long password")
    tom.get_by_role("button", name="Create account and join").click()
    expect(tom.locator(".role")).to_have_text("accountant")

    tom.get_by_role("button", name="Log out").click()
    expect(tom.get_by_role("heading", name="Log in")).to_be_visible()
    tom.get_by_label("Email").fill("tom@studio.example")
    tom.get_by_label("Password").fill("tom's long password")
    tom.get_by_role("button", name="Log in").click()
    expect(tom.get_by_role("heading", name="Lopez Studio")).to_be_visible()
    expect(tom.locator(".role")).to_have_text("accountant")

    # An accountant manages the catalogue but not the team.
    tom.get_by_role("link", name="Tax rates", exact=True).click()
    tom.get_by_role("link", name="New tax rate").click()
    tom.get_by_label("Name").fill("VAT 20%")
    tom.get_by_label("Rate (%)").fill("20")
    tom.get_by_role("button", name="Save tax rate").click()
    expect(tom.locator("#main table")).to_contain_text("VAT 20%")
    tom.get_by_role("link", name="Team", exact=True).click()
    expect(tom.get_by_role("button", name="Send invitation")).to_have_count(0)
    context.close()

    # The inviter now sees the teammate as a member.
    page.reload()
    expect(page.locator("#main table").first).to_contain_text("tom@studio.example")
