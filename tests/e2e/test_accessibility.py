"""The client portal's pages pass axe-core with no serious or critical violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page

from portal.models import Role
from portal.services import client_portal
from tests.conftest import make_team
from tests.fakes.stripe_api import FakeStripe
from tests.payments.conftest import connect
from tests.services import factories as f

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical findings on the page as it is now."""
    assert AXE.exists(), "axe-core is missing: run `make system-deps` (npm install)"
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_portal_pages_have_no_serious_accessibility_violations(
    browser: Browser, live_server: str, app: Flask, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = make_team("Harbor Design")
    owner = team.actor(Role.STAFF)
    fjord = f.client(owner, name="Fjord AS", email="ap@fjord.example")
    invoice = f.issued_invoice(owner, fjord, f.line("Design hours", "3", "95.50"))
    f.issued_invoice(owner, fjord, f.line("Hosting", "1", "20"))
    with FakeStripe() as fake:
        monkeypatch.setitem(app.config, "STRIPE_API_BASE", fake.base)
        connect(
            team,
            "stripe",
            {"secret_key": fake.secret_key, "webhook_secret": fake.webhook_secret},
            allow_partial=True,
        )
        _, doc_token = client_portal.create_link(owner, fjord.public_id, invoice.public_id)
        _, all_token = client_portal.create_link(owner, fjord.public_id)
        # axe is injected as a script: this context alone lets it past the page's CSP.
        context = browser.new_context(base_url=live_server, bypass_csp=True)
        page = context.new_page()
        pages = {
            "invoice with payment form": f"/pay/{doc_token}",
            "documents": f"/pay/{all_token}",
            "statement": f"/pay/{all_token}/statement",
            "payments": f"/pay/{all_token}/payments",
            "invalid link": "/pay/not-a-real-token",
        }
        found = {}
        for name, url in pages.items():
            page.goto(url)
            page.wait_for_load_state("load")
            found[name] = violations(page)
        page.goto(f"/pay/{doc_token}")
        page.get_by_label("Amount to pay (EUR)").fill("100000")
        page.get_by_role("button", name="Pay with Stripe").click()
        page.wait_for_selector("#pay-amount-error")
        found["payment form with an error"] = violations(page)
        context.close()
    assert {name: v for name, v in found.items() if v} == {}


def test_the_check_finds_a_missing_label(browser: Browser) -> None:
    """The check above means something only if axe does report a broken page."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_content(
        '<!doctype html><html lang="en"><title>x</title><main>'
        '<input type="text"><img src="data:,"></main></html>'
    )
    ids = {v["id"] for v in violations(page)}
    context.close()
    assert {"label", "image-alt"} <= ids
