"""PayPal and Square through the portal: paying records one payment however often and in
whatever order their webhooks arrive, and the payer's return agrees with them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Document, Payment, ProviderEvent, Role
from portal.services import client_portal, payment_accounts
from tests.conftest import Team
from tests.fakes.paypal_api import FakePayPal
from tests.fakes.square_api import FakeSquare
from tests.payments.conftest import connect, post_events, submit
from tests.services import factories as f


@pytest.fixture(params=["paypal", "square"])
def provider(
    request: pytest.FixtureRequest, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any]]:
    name = str(request.param)
    fake_class = FakePayPal if name == "paypal" else FakeSquare
    with fake_class() as fake:
        monkeypatch.setitem(app.config, f"{name.upper()}_API_BASE", fake.base)
        yield name, fake
        assert fake.problems == []


def _credentials(name: str, fake: Any) -> dict[str, str]:
    if name == "paypal":
        return dict(fake.credentials)
    return {
        "access_token": fake.access_token,
        "location_id": fake.location_id,
        "webhook_signature_key": fake.signature_key,
    }


def test_replayed_and_reordered_webhooks_record_one_payment(
    client: FlaskClient, app: Flask, team: Team, provider: tuple[str, Any]
) -> None:
    name, fake = provider
    staff = team.actor(Role.STAFF)
    customer = f.client(staff, email="ap@fjord.example")
    invoice = f.issued_invoice(staff, customer, f.line(price="80"))
    account = connect(team, name, _credentials(name, fake))
    with app.test_request_context():
        hook = payment_accounts.webhook_url(account)
    if name == "square":
        fake.notification_url = hook
    _, token = client_portal.create_link(staff, customer.public_id, invoice.public_id)

    started = client.post(f"/pay/{token}/checkout", data={"provider": name})
    assert started.status_code == 303, started.get_data(as_text=True)
    # Press "Complete payment" on the provider's page (PayPal's posts to itself, Square's too).
    back = submit(started.location, {"action": "pay"} if name == "square" else None)
    receipt = client.get(back.replace("http://127.0.0.1", "")).get_data(as_text=True)
    assert "Thank you" in receipt
    fake.wait_for_deliveries()
    sent = list(fake.sent_events)
    assert sent, "the provider sent no webhooks"
    path = hook.replace("http://127.0.0.1", "")
    for _ in range(3):
        assert set(post_events(client, path, list(reversed(sent)))) == {200}
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    [payment] = db.session.scalars(select(Payment))
    assert payment.provider == name and payment.amount_minor == 8000 and payment.fee_minor > 0
    assert db.session.scalar(select(func.count()).select_from(ProviderEvent)) >= 1
    doc = db.session.get_one(Document, invoice.id)
    db.session.refresh(doc)
    assert doc.status == "paid"
