"""An admin adds a webhook endpoint on loopback, sends it a test, reads the log and resends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.test_clients_flow import sign_up
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture
def receiver(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setitem(app.config, "WEBHOOKS_TIMEOUT", 2.0)
    fake = Receiver()
    yield fake
    fake.stop()
    assert fake.problems == []


def test_add_an_endpoint_send_a_test_read_the_log_and_resend(
    page: Page, receiver: Receiver
) -> None:
    sign_up(page)
    page.goto("/app/settings")
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("Our ERP")
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#secret-value").inner_text()
    assert secret.startswith("whsec_")
    receiver.secrets.append(secret)

    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator(".toast")).to_contain_text("Test event sent")
    (got,) = receiver.wait_for(1)
    assert got.verified_by == (secret,)
    assert got.payload["type"] == "webhook.test"
    row = page.locator("tr.delivery").first
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("HTTP 200")
    expect(row).to_contain_text("succeeded")
    if os.environ.get("INVOICE_LITE_SCREENSHOTS"):
        page.screenshot(path=DOCS_IMG / "webhooks-log.png", full_page=True)

    row.get_by_role("link", name="Details").click()
    expect(page.locator("#request-headers")).to_contain_text("webhook-signature: v1,")
    expect(page.locator("#request-headers")).to_contain_text(
        f"webhook-id: {got.headers['webhook-id']}"
    )
    expect(page.locator("#response-status")).to_contain_text("HTTP 200")
    if os.environ.get("INVOICE_LITE_SCREENSHOTS"):
        page.screenshot(path=DOCS_IMG / "webhooks-delivery.png", full_page=True)

    page.get_by_role("button", name="Resend").click()
    expect(page.locator(".toast")).to_contain_text("Resent")
    expect(page.locator("tr.delivery")).to_have_count(2)
    expect(page.locator("tr.delivery").first).to_contain_text("HTTP 200")
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.verified_by == (secret,)
