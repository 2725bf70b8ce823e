"""A business connects its own Stripe account through Connect onboarding; its clients' payments
go to that account with the platform's fee, and Connect webhooks find the business."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import Document, Payment, PaymentAccount, Role
from portal.services import client_portal
from tests.conftest import Team
from tests.fakes.stripe_api import FakeStripe, stripe_fee
from tests.payments.conftest import post_events, submit
from tests.services import factories as f


@pytest.fixture
def platform(app: Flask, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    monkeypatch.setitem(app.config, "STRIPE_PLATFORM_SECRET_KEY", fake_stripe.secret_key)
    monkeypatch.setitem(app.config, "STRIPE_PLATFORM_WEBHOOK_SECRET", fake_stripe.webhook_secret)
    monkeypatch.setitem(app.config, "STRIPE_APPLICATION_FEE_BPS", 100)  # 1%
    return fake_stripe


def _connect(login: Any) -> FlaskClient:
    owner = login(Role.OWNER)
    page = owner.get("/app/settings/payments").get_data(as_text=True)
    assert "Connect with Stripe" in page
    started = owner.post("/app/settings/stripe-connect")
    assert started.status_code == 303
    assert "/connect/onboarding/" in started.location
    back = submit(started.location)
    assert back.endswith("/app/settings/stripe-connect/return")
    done = owner.get("/app/settings/stripe-connect/return")
    assert done.status_code == 303
    return owner


def test_connect_onboarding_turns_card_payments_on(
    login: Any, team: Team, platform: FakeStripe
) -> None:
    owner = _connect(login)
    account = db.session.scalar(select(PaymentAccount))
    assert account is not None and account.enabled
    assert account.connected_account_id.startswith("acct_")
    assert account.credentials == "{}"  # no keys of the business are stored
    page = owner.get("/app/settings/payments").get_data(as_text=True)
    assert account.connected_account_id in page


def test_a_payment_goes_to_the_connected_account_with_the_platform_fee(
    client: FlaskClient, login: Any, team: Team, platform: FakeStripe
) -> None:
    _connect(login)
    client.get("/logout")
    account = db.session.scalar(select(PaymentAccount))
    assert account is not None
    staff = team.actor(Role.STAFF)
    customer = f.client(staff, email="ap@fjord.example")
    invoice = f.issued_invoice(staff, customer, f.line(price="200"))
    _, token = client_portal.create_link(staff, customer.public_id, invoice.public_id)
    started = client.post(f"/pay/{token}/checkout", data={"provider": "stripe"})
    assert started.status_code == 303
    submit(started.location + "/pay")
    [session_event] = platform.events_of("checkout.session.completed")
    assert session_event["account"] == account.connected_account_id
    intent = platform.get(session_event["data"]["object"]["payment_intent"])
    assert intent["application_fee_amount"] == 200  # 1% of 200.00
    statuses = post_events(client, "/hooks/stripe-connect", platform.sent_events)
    assert set(statuses) == {200}
    [payment] = db.session.scalars(select(Payment))
    assert payment.amount_minor == 20000 and payment.fee_minor == stripe_fee(20000)
    doc = db.session.get_one(Document, invoice.id)
    db.session.refresh(doc)
    assert doc.status == "paid"


def test_a_connect_webhook_with_a_bad_signature_is_refused(
    client: FlaskClient, platform: FakeStripe, db: Any
) -> None:
    response = client.post(
        "/hooks/stripe-connect",
        data=b'{"id": "evt_1", "type": "x", "data": {"object": {}}}',
        headers={"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"},
        csrf=False,
    )
    assert response.status_code == 400


def test_payouts_to_the_bank_are_listed(login: Any, team: Team, platform: FakeStripe) -> None:
    owner = _connect(login)
    account = db.session.scalar(select(PaymentAccount))
    assert account is not None
    payout = platform.add_payout(123456, account=account.connected_account_id)
    platform.add_payout(999, account=None)  # the platform's own: not this business's
    page = owner.get("/app/settings/stripe-payouts").get_data(as_text=True)
    assert payout in page and "€1,234.56" in page
    assert "€9.99" not in page
