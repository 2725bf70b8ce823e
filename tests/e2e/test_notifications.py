"""An admin connects a Slack channel and sends it a test, in a real browser."""

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.test_clients_flow import sign_up
from tests.notify.fakes import SlackWebhook

pytestmark = pytest.mark.browser


@pytest.fixture
def slack(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackWebhook]:
    monkeypatch.setitem(app.config, "NOTIFY_ANY_HOST", True)  # the fake lives on 127.0.0.1
    fake = SlackWebhook()
    yield fake
    fake.stop()
    assert fake.problems == []


def test_add_a_slack_channel_and_send_a_test(page: Page, slack: SlackWebhook) -> None:
    sign_up(page)
    page.goto("/app/settings/notifications")
    page.get_by_label("Provider").select_option("slack")
    page.get_by_label("Name").fill("#billing")
    page.get_by_label("Webhook URL or Slack bot token").fill(slack.url)
    page.get_by_label("Invoice paid").check()
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator(".toast")).to_contain_text("Channel #billing added.")
    row = page.locator("tr", has_text="#billing")
    expect(row).to_contain_text("Invoice paid")

    row.get_by_role("button", name="Send a test").click()
    expect(row.get_by_role("status")).to_have_text("Sent")
    (message,) = slack.received
    assert message["blocks"][0]["text"]["text"] == "Test from Invoice Lite"
    assert page.url.endswith("/app/settings/notifications")  # htmx swapped, no navigation
