"""Set up two-factor login in a real browser, log out, and log in again with a code."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect

from portal.models import Role
from tests.conftest import PASSWORD, make_team

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def test_enrol_log_out_and_log_in_with_a_code(page: Page, db: Any) -> None:
    team = make_team("Harbor Security")
    email = team.users[Role.ACCOUNTANT].email
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".role")).to_have_text("accountant")

    page.get_by_role("link", name="Account security").click()
    expect(page.get_by_role("heading", name="Account security")).to_be_visible()
    page.get_by_role("link", name="Set up two-factor login").click()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    # The QR code really draws (an SVG image allowed by the page's policy).
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    secret = page.locator("#totp-secret").inner_text().strip()
    if os.environ.get("INVOICE_LITE_UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(DOCS_IMG / "two-factor-setup.png"), full_page=True)

    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor login").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Two-factor login")).to_be_visible()

    # A wrong code is refused with a message beside the field.
    page.get_by_label("Code").fill("000000" if totp.now() != "000000" else "111111")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#code-error")).to_contain_text("That code is not right.")

    # The next time step's code: the one used to confirm logs in once only.
    page.get_by_label("Code").fill(totp.at(time.time() + totp.interval))
    page.get_by_label("Remember this device for 30 days").check()
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Harbor Security")).to_be_visible()
    expect(page.locator(".role")).to_have_text("accountant")

    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["il_device"]["httpOnly"]

    page.get_by_role("link", name="Account security").click()
    expect(page.locator("#two-factor")).to_contain_text("On")
    expect(page.locator("#devices table")).to_contain_text("Chrome on Linux")
    page.get_by_role("link", name="Where you are logged in").click()
    expect(page.get_by_role("heading", name="Where you are logged in")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("This browser")
    if os.environ.get("INVOICE_LITE_UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(DOCS_IMG / "sessions.png"), full_page=True)

    # Remembered: the next log-in skips the code.
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Harbor Security")).to_be_visible()
