"""A developer makes an API key (seen once, then listed by its prefix), registers an OAuth app
and goes through its consent screen, in a real browser."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import Page, Route, expect

from portal.models import Role
from tests.conftest import make_team
from tests.e2e.test_invoice_flow import log_in

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
CALLBACK = "http://127.0.0.1:9/callback"


def _shoot(page: Page, name: str) -> None:
    if os.environ.get("INVOICE_LITE_SCREENSHOTS"):
        page.screenshot(path=DOCS_IMG / name, full_page=True)


def test_a_key_is_shown_once_and_an_app_is_approved(page: Page, live_server: str, db: Any) -> None:
    team = make_team("Harbor Design")
    log_in(page, team, Role.OWNER)
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Developers: API keys, OAuth apps, access log").click()

    page.get_by_label("Name").fill("Warehouse sync")
    page.get_by_label("clients:read — Read clients and contacts").check()
    page.get_by_label("invoices:read — Read invoices, quotes, credit notes and their files").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key")).to_contain_text("Copy it now: it is shown this once.")
    key = page.locator("#full-key").input_value()
    assert key.startswith("il_")
    prefix = key.split("_")[1]
    row = page.locator("#keys tbody tr").filter(has_text="Warehouse sync")
    expect(row.locator(".key-prefix")).to_have_text(f"il_{prefix}_…")
    expect(row).to_contain_text("clients:read, invoices:read")

    page.get_by_role("link", name="API keys").click()
    expect(page.locator("#full-key")).to_have_count(0)
    assert key.split("_", 2)[2] not in page.content()
    expect(page.locator("#keys .key-prefix")).to_have_text(f"il_{prefix}_…")

    answer = page.request.get(f"{live_server}/api/v1/clients", headers={"X-Api-Key": key})
    assert answer.status == 200
    page.get_by_role("link", name="Warehouse sync").click()
    expect(page.locator("#usage")).to_contain_text("1 requests, 0 errors in the last 30 days.")
    expect(page.locator("#usage-chart .main-svg").first).to_be_visible()
    _shoot(page, "developers-key.png")

    page.get_by_role("link", name="OAuth apps").click()
    page.get_by_label("Name").fill("Ledger Sync")
    page.get_by_label("Redirect URIs").fill(CALLBACK)
    page.get_by_label("Public: a browser or mobile app; no secret, PKCE (S256) required").check()
    page.get_by_label("clients:read — Read clients and contacts").check()
    page.get_by_role("button", name="Register app").click()
    client_id = page.locator("#client-id").input_value()
    expect(page.locator("#client-secret")).to_have_count(0)
    expect(page.locator("#apps")).to_contain_text("Ledger Sync")

    session = OAuth2Session(
        client_id,
        token_endpoint_auth_method="none",
        scope="clients:read",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )
    verifier = secrets.token_urlsafe(48)
    url, state = session.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=verifier
    )
    arrived: list[str] = []

    def app_receives(route: Route) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="Back at the app")

    page.route(f"{CALLBACK}*", app_receives)
    page.goto(url)
    expect(
        page.get_by_role("heading", name="Allow Ledger Sync to use Invoice Lite?")
    ).to_be_visible()
    expect(page.locator("#consent-business")).to_have_text("Harbor Design")
    expect(page.locator("#consent-scopes")).to_contain_text("clients:read")
    _shoot(page, "oauth-consent.png")
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_text("Back at the app")).to_be_visible()

    back = parse_qs(urlsplit(arrived[0]).query)
    assert back["state"] == [state]
    session.fetch_token(
        f"{live_server}/oauth/token", authorization_response=arrived[0], code_verifier=verifier
    )
    assert session.get(f"{live_server}/api/v1/clients").status_code == 200
