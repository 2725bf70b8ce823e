"""A client pays an invoice through each provider's hosted page and comes back to a receipt; the
business sees the invoice paid with the amount and the provider's fee."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.models import Role
from portal.services import client_portal, payment_accounts
from tests.conftest import make_team
from tests.e2e.test_invoice_flow import log_in
from tests.fakes import paypal_api, square_api
from tests.fakes.paypal_api import FakePayPal
from tests.fakes.square_api import FakeSquare
from tests.fakes.stripe_api import FakeStripe, stripe_fee
from tests.payments.conftest import connect
from tests.services import factories as f

pytestmark = pytest.mark.browser
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def paypal_fee(amount: int) -> int:
    share = (Decimal(amount) * paypal_api.FEE_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(share) + paypal_api.FEE_FIXED_MINOR


PROVIDERS: dict[str, tuple[type[Any], Callable[[int], int]]] = {
    "stripe": (FakeStripe, stripe_fee),
    "paypal": (FakePayPal, paypal_fee),
    "square": (FakeSquare, square_api._fee),
}


def _credentials(provider: str, fake: Any) -> dict[str, str]:
    if provider == "stripe":
        return {"secret_key": fake.secret_key, "webhook_secret": fake.webhook_secret}
    if provider == "paypal":
        return dict(fake.credentials)
    return {
        "access_token": fake.access_token,
        "location_id": fake.location_id,
        "webhook_signature_key": fake.signature_key,
    }


@pytest.fixture(params=list(PROVIDERS))
def provider(
    request: pytest.FixtureRequest, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any]]:
    name = str(request.param)
    fake_class, _ = PROVIDERS[name]
    with fake_class() as fake:
        monkeypatch.setitem(app.config, f"{name.upper()}_API_BASE", fake.base)
        yield name, fake
        assert fake.problems == []


def test_a_client_pays_online_and_the_business_sees_it_paid_with_the_fee(
    page: Page, live_server: str, app: Flask, provider: tuple[str, Any], db: Any
) -> None:
    name, fake = provider
    label = payment_accounts.label(name)
    team = make_team("Harbor Design")
    owner = team.actor()
    fjord = f.client(owner, name="Fjord AS", email="ap@fjord.example")
    invoice = f.issued_invoice(owner, fjord, f.line("Design hours", "1", "120"))
    account = connect(team, name, _credentials(name, fake))
    with app.test_request_context():
        hook = payment_accounts.webhook_url(account)
    fake.webhook_url = hook
    if name == "square":
        fake.notification_url = hook
    _, token = client_portal.create_link(owner, fjord.public_id, invoice.public_id)

    page.goto(f"/pay/{token}")
    expect(page.locator("#pay-balance")).to_have_text("€120.00")
    if name == "stripe" and os.environ.get("INVOICE_LITE_SCREENSHOTS"):
        page.screenshot(path=DOCS_IMG / "portal-pay.png", full_page=True)
    page.get_by_role("button", name=f"Pay with {label}").click()
    expect(page.get_by_role("button", name="Complete payment")).to_be_visible()
    page.get_by_role("button", name="Complete payment").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(page.locator("#receipt-amount")).to_have_text("€120.00")
    expect(page.locator("#receipt-balance")).to_have_text("€0.00")
    if hasattr(fake, "wait_for_deliveries"):
        fake.wait_for_deliveries()

    fee = PROVIDERS[name][1](12000)
    log_in(page, team, Role.ACCOUNTANT)
    page.goto(f"/app/invoices/{invoice.public_id}")
    expect(page.locator("#invoice-status")).to_have_text("Paid")
    row = page.locator("#online-payments tbody tr").first
    expect(row.locator("[data-cell=amount]")).to_have_text("€120.00")
    expect(row.locator("[data-cell=fee]")).to_have_text(f"€{Decimal(fee).scaleb(-2):.2f}")
    expect(row.locator("[data-cell=net]")).to_have_text(f"€{Decimal(12000 - fee).scaleb(-2):.2f}")
    expect(row).to_contain_text(label)
    if name == "stripe" and os.environ.get("INVOICE_LITE_SCREENSHOTS"):
        page.locator("#online-payments").screenshot(path=DOCS_IMG / "online-payments.png")
