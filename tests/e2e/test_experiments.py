"""A business runs a payment page experiment; clients in each variant see their version, and the
results page counts their visits and payments. Paused, clients see the standard page and nothing
is counted; ended, the results stay as they were."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from portal.models import Role
from portal.services import client_portal, experiments
from tests.conftest import make_team
from tests.e2e.test_invoice_flow import log_in
from tests.fakes.stripe_api import FakeStripe
from tests.payments.conftest import connect
from tests.services import factories as f

pytestmark = pytest.mark.browser


def test_clients_in_each_variant_move_the_counts(
    page: Page,
    browser: Browser,
    live_server: str,
    app: Flask,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    team = make_team("Harbor Design")
    owner = team.actor()
    with FakeStripe() as fake:
        monkeypatch.setitem(app.config, "STRIPE_API_BASE", fake.base)
        account = connect(
            team, "stripe", {"secret_key": fake.secret_key, "webhook_secret": fake.webhook_secret}
        )
        from portal.services import payment_accounts

        with app.test_request_context():
            fake.webhook_url = payment_accounts.webhook_url(account)

        log_in(page, team, Role.ADMIN)
        page.goto("/app/experiments")
        page.get_by_label("Name", exact=True).first.fill("Shorter payment page")
        control = page.locator("fieldset.variant").nth(0)
        challenger = page.locator("fieldset.variant").nth(1)
        control.get_by_label("Name").fill("Control")
        challenger.get_by_label("Name").fill("Compact")
        challenger.get_by_label("Layout").select_option("compact")
        challenger.get_by_label("Heading").fill("Settle up in a minute")
        challenger.get_by_label("Button word").fill("Pay now")
        page.get_by_role("button", name="Create experiment").click()
        expect(page.locator("#experiment-status")).to_have_text("Draft")
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#experiment-status")).to_have_text("Running")
        results_url = page.url

        # Clients, each with an invoice and a link, until both variants have one.
        db.session.rollback()  # see what the pages committed
        experiment = experiments.running(team.business)
        assert experiment is not None
        by_variant: dict[str, str] = {}
        n = 0
        while len(by_variant) < 2:
            n += 1
            client = f.client(owner, name=f"Client {n}", email=f"ap{n}@client.example")
            invoice = f.issued_invoice(owner, client, f.line("Design hours", "1", "120"))
            link, token = client_portal.create_link(owner, client.public_id, invoice.public_id)
            assignment = experiments.assign(team.business, link)
            assert assignment is not None
            by_variant.setdefault(assignment.variant.key, token)

        visitor = browser.new_context(base_url=live_server).new_page()
        visitor.goto(f"/pay/{by_variant['a']}")
        expect(visitor.get_by_role("heading", name="Pay this invoice")).to_be_visible()
        expect(visitor.get_by_role("button", name="Pay with Stripe")).to_be_visible()
        visitor.goto(f"/pay/{by_variant['b']}")
        expect(visitor.get_by_role("heading", name="Settle up in a minute")).to_be_visible()
        # The compact variant puts the payment form above the invoice.
        assert visitor.locator("section.card").first.get_attribute("id") == "pay"
        visitor.get_by_role("button", name="Pay now with Stripe").click()
        visitor.get_by_role("button", name="Complete payment").click()
        expect(visitor.get_by_role("heading", name="Thank you")).to_be_visible()
        visitor.context.close()

        page.goto(results_url)
        expect(page.locator("#variant-a [data-count=viewed]")).to_have_text("1")
        expect(page.locator("#variant-a [data-count=paid]")).to_have_text("0")
        expect(page.locator("#variant-b [data-count=viewed]")).to_have_text("1")
        expect(page.locator("#variant-b [data-count=started]")).to_have_text("1")
        expect(page.locator("#variant-b [data-count=paid]")).to_have_text("1")
        expect(page.locator("#decision")).to_contain_text("Keep running")
        expect(page.locator("#experiment-chart .main-svg").first).to_be_visible()
        expect(page.locator("#variant-b [data-count=amount]")).to_have_text("€120.00")
        expect(page.locator("#variant-a [data-count=amount]")).to_have_text("—")
        if os.environ.get("INVOICE_LITE_SCREENSHOTS"):
            docs = Path(__file__).resolve().parents[2] / "docs" / "img"
            page.screenshot(path=docs / "experiment-results.png", full_page=True)

        # Paused: the challenger's client gets the standard page, and no visit is counted.
        page.get_by_role("button", name="Pause").click()
        expect(page.locator("#experiment-status")).to_have_text("Paused")
        expect(page.locator("#experiment-note")).to_contain_text("nothing is counted")
        expect(page.get_by_role("button", name="Resume")).to_be_visible()
        expect(page.get_by_role("button", name="Pause")).to_have_count(0)
        db.session.rollback()  # the test's read snapshot predates the pause: let it go
        while True:  # a new client whom the running experiment would show the challenger
            n += 1
            client = f.client(owner, name=f"Client {n}", email=f"ap{n}@client.example")
            invoice = f.issued_invoice(owner, client, f.line("Design hours", "1", "120"))
            link, token = client_portal.create_link(owner, client.public_id, invoice.public_id)
            point = experiments.bucket(experiment.public_id, link.public_id)
            if experiments.pick(experiment.variants, point).key == "b":
                break
        visitor = browser.new_context(base_url=live_server).new_page()
        visitor.goto(f"/pay/{token}")
        expect(visitor.get_by_role("heading", name="Pay this invoice")).to_be_visible()
        expect(visitor.get_by_role("button", name="Pay with Stripe")).to_be_visible()
        visitor.context.close()
        page.reload()
        expect(page.locator("#variant-a [data-count=viewed]")).to_have_text("1")
        expect(page.locator("#variant-b [data-count=viewed]")).to_have_text("1")

        # Ended: no buttons left, and the results stay as they were.
        page.get_by_role("button", name="End").click()
        expect(page.locator("#experiment-status")).to_have_text("Ended")
        expect(page.locator("#experiment-note")).to_contain_text("final")
        expect(page.locator(".actions button")).to_have_count(0)
        expect(page.locator("#variant-b [data-count=paid]")).to_have_text("1")
        page.goto("/app/experiments")
        expect(page.get_by_role("row", name="Shorter payment page")).to_contain_text("Ended")
        assert fake.problems == []
