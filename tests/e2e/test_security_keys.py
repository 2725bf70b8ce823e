"""Register a security key in Chromium's virtual authenticator, log out, log in with the key."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.models import Role
from tests.conftest import PASSWORD, make_team

pytestmark = pytest.mark.browser


def test_register_a_key_log_out_and_log_in_with_it(
    page: Page, live_server: str, app: Flask, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WebAuthn binds keys to a domain name, never to an IP address: the site is "localhost" here.
    base = live_server.replace("127.0.0.1", "localhost")
    monkeypatch.setitem(app.config, "PUBLIC_URL", base)
    team = make_team("Harbor Keys")
    email = team.users[Role.STAFF].email

    client = page.context.new_cdp_session(page)
    client.send("WebAuthn.enable")
    authenticator = client.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )["authenticatorId"]

    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".role")).to_have_text("staff")

    page.get_by_role("link", name="Account security").click()
    keys = page.locator("#security-keys")
    expect(keys).to_contain_text("No security key is registered.")
    page.get_by_label("Name of the key").fill("Desk key")
    page.get_by_role("button", name="Add a security key").click()
    expect(page.locator(".toast")).to_contain_text("“Desk key” is added")
    expect(keys.locator("tbody tr")).to_have_count(1)
    expect(keys.locator("tbody")).to_contain_text("Desk key")

    credentials = client.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    assert credentials["credentials"][0]["rpId"] == "localhost"

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Two-factor login")).to_be_visible()
    # Only a key, no authenticator app: no code field is offered.
    expect(page.get_by_label("Code")).to_have_count(0)

    page.get_by_role("button", name="Use security key").click()
    expect(page.get_by_role("heading", name="Harbor Keys")).to_be_visible()
    expect(page.locator(".role")).to_have_text("staff")

    # The key signed once more: its counter moved on, and the page says when it was used.
    after = client.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert after["credentials"][0]["signCount"] > credentials["credentials"][0]["signCount"]
    page.get_by_role("link", name="Account security").click()
    expect(keys.locator("tbody tr td").nth(2)).not_to_have_text("Never")

    # Once the key is removed, the browser cannot log in with it: the password alone does.
    page.get_by_role("button", name="Remove Desk key").click()
    expect(page.locator(".toast")).to_contain_text("The key is removed")
    expect(keys).to_contain_text("No security key is registered.")
