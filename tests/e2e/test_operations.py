"""An admin checks the system status and retries a failed message, in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from redis import Redis
from sqlalchemy import select

from portal.extensions import db as _db
from portal.models import Business, OutboxMessage
from portal.services import outbox
from tests.conftest import redis_test_url
from tests.e2e.test_clients_flow import sign_up

pytestmark = [pytest.mark.browser, pytest.mark.redis]

REDIS_URL = redis_test_url("TEST_OPERATIONS_REDIS_URL", 12)
SENT: list[str] = []


@outbox.handles("test.e2e-operations")
def _send(message: OutboxMessage) -> dict[str, Any]:
    SENT.append(message.key)
    return {"sent": True}


def test_an_admin_sees_the_queues_and_retries_a_failed_message(
    page: Page, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    SENT.clear()
    Redis.from_url(REDIS_URL).flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    sign_up(page)
    page.goto("/app/status")
    expect(page.get_by_role("heading", name="System status")).to_be_visible()
    expect(page.locator("#queues")).to_contain_text("email")
    expect(page.locator("#queue-default")).to_contain_text("default")
    expect(page.locator("#heartbeats")).to_contain_text("outbox-sweep")

    with app.app_context():
        business = _db.session.scalars(select(Business)).one()
        message = outbox.add(business, "test.e2e-operations", "e2e-ops-1", {})
        message.status, message.attempts = "failed", 5
        message.last_error = "TemporaryFailure: 421 try again later"
        _db.session.commit()
        public_id = message.public_id
    # Without Redis the retried message is done at once, while the person watches.
    monkeypatch.setitem(app.config, "REDIS_URL", None)

    page.get_by_role("link", name="Failed and waiting messages").click()
    row = page.locator(f"#outbox-{public_id}")
    expect(row).to_contain_text("failed")
    expect(row).to_contain_text("TemporaryFailure: 421 try again later")
    row.get_by_role("button", name="Retry").click()
    expect(row).to_contain_text("done")
    expect(row.get_by_role("button", name="Retry")).to_have_count(0)
    assert SENT == ["e2e-ops-1"]
    Redis.from_url(REDIS_URL).flushdb()
