"""A client pays an invoice through Stripe from the portal; webhooks apply it exactly once."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Checkout,
    Dispute,
    Document,
    OutboxMessage,
    Payment,
    ProviderEvent,
    Refund,
    Role,
)
from portal.services import balances
from portal.services import payments as payment_service
from tests.fakes.stripe_api import FakeStripe, stripe_fee
from tests.payments.conftest import PayShop, post_events, submit
from tests.services.factories import unheard_channel


def _start(client: FlaskClient, shop: PayShop, **form: str) -> Any:
    return client.post(f"/pay/{shop.token}/checkout", data={"provider": "stripe", **form})


def _pay(client: FlaskClient, shop: PayShop, fake: FakeStripe, **form: str) -> str:
    """Open the checkout, press "Complete payment", deliver the webhooks; returns the return URL."""
    started = _start(client, shop, **form)
    assert started.status_code == 303, started.get_data(as_text=True)
    assert started.location.startswith(fake.base + "/checkout/")
    back = submit(started.location + "/pay")
    assert set(post_events(client, shop.hook, fake.sent_events)) == {200}
    return back


def _invoice(shop: PayShop) -> Document:
    doc = db.session.get_one(Document, shop.invoice.id)
    db.session.refresh(doc)
    return doc


def _payments() -> list[Payment]:
    return list(db.session.scalars(select(Payment)))


def test_the_invoice_page_offers_stripe_with_the_balance(client: FlaskClient, stripe_shop: PayShop):
    page = client.get(f"/pay/{stripe_shop.token}").get_data(as_text=True)
    assert "Pay with Stripe" in page
    assert "Left to pay" in page and "100.00" in page


def test_paying_in_full_marks_the_invoice_paid_with_stripes_fee(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe
):
    back = _pay(client, stripe_shop, fake_stripe)
    doc = _invoice(stripe_shop)
    assert doc.status == "paid" and doc.balance_minor == 0
    [payment] = _payments()
    assert payment.amount_minor == doc.amount_due_minor
    assert payment.fee_minor == stripe_fee(doc.amount_due_minor)
    assert payment.provider == "stripe" and payment.provider_payment_id.startswith("pi_")
    receipt = client.get(back.replace("http://127.0.0.1", "")).get_data(as_text=True)
    assert "Thank you" in receipt and "100.00" in receipt


def test_webhooks_replayed_three_times_out_of_order_record_one_payment(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe
):
    _pay(client, stripe_shop, fake_stripe)
    sent = list(fake_stripe.sent_events)
    for _ in range(3):
        assert set(post_events(client, stripe_shop.hook, list(reversed(sent)))) == {200}
    assert len(_payments()) == 1
    assert db.session.scalar(select(func.count()).select_from(ProviderEvent)) == len(sent)
    assert _invoice(stripe_shop).status == "paid"


def test_the_return_page_records_the_payment_before_any_webhook(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe
):
    started = _start(client, stripe_shop)
    back = submit(started.location + "/pay")
    receipt = client.get(back.replace("http://127.0.0.1", "")).get_data(as_text=True)
    assert "Thank you" in receipt
    assert len(_payments()) == 1
    # The webhooks arriving afterwards change nothing.
    assert set(post_events(client, stripe_shop.hook, fake_stripe.sent_events)) == {200}
    assert len(_payments()) == 1


def test_a_part_payment_leaves_the_rest_open(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe
):
    _pay(client, stripe_shop, fake_stripe, amount="40")
    doc = _invoice(stripe_shop)
    assert doc.status == "partially_paid"
    assert doc.balance_minor == doc.amount_due_minor - 4000
    [completed] = fake_stripe.events_of("checkout.session.completed")
    assert completed["data"]["object"]["amount_total"] == 4000


def test_amounts_the_business_does_not_allow_are_refused_beside_the_field(
    client: FlaskClient, stripe_shop: PayShop
):
    for amount, message in [
        ("5", "The smallest part payment is"),
        ("1000", "That is more than the"),
        ("abc", "Enter an amount in EUR"),
        ("-3", "Enter an amount greater than 0"),
    ]:
        response = _start(client, stripe_shop, amount=amount)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Checkout)) == 0


def test_an_unknown_provider_is_refused(client: FlaskClient, stripe_shop: PayShop):
    response = client.post(f"/pay/{stripe_shop.token}/checkout", data={"provider": "bitcoin"})
    assert response.status_code == 422
    assert "Choose one of the offered ways to pay" in response.get_data(as_text=True)


def test_stripe_down_gives_a_clear_message_and_nothing_paid(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe
):
    fake_stripe.answers.extend(["server_error"] * 5)
    response = _start(client, stripe_shop)
    assert response.status_code == 422
    assert "Stripe is not answering just now" in response.get_data(as_text=True)
    assert _invoice(stripe_shop).status != "paid"


def test_a_declined_card_shows_on_the_receipt_and_tells_the_team(
    app: Any, client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe, monkeypatch: Any
):
    monkeypatch.setitem(app.config, "NOTIFY_ANY_HOST", True)
    unheard_channel(stripe_shop.team.business, ["payment.failed"])
    started = _start(client, stripe_shop)
    # The decline button answers 402 with the checkout page again; the failure comes by webhook.
    with pytest.raises(urllib.error.HTTPError) as declined:
        urllib.request.urlopen(
            urllib.request.Request(started.location + "/decline", data=b"", method="POST"),
            timeout=10,
        )
    assert declined.value.code == 402
    declined.value.close()
    assert set(post_events(client, stripe_shop.hook, fake_stripe.sent_events)) == {200}
    checkout = db.session.scalar(select(Checkout))
    assert checkout is not None and checkout.status == "failed"
    cid = checkout.public_id
    receipt = client.get(f"/pay/{stripe_shop.token}/checkouts/{cid}/return").get_data(as_text=True)
    assert "did not go through" in receipt
    assert _payments() == []
    [told] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notify.channel"))
    assert told.payload["title"] == f"Payment for invoice {stripe_shop.invoice.number} failed"


def test_cancel_returns_to_the_invoice(client: FlaskClient, stripe_shop: PayShop):
    started = _start(client, stripe_shop)
    assert started.status_code == 303
    checkout = db.session.scalar(select(Checkout))
    assert checkout is not None
    back = client.get(f"/pay/{stripe_shop.token}/checkouts/{checkout.public_id}/cancel")
    assert back.status_code == 303
    page = client.get(back.location).get_data(as_text=True)
    assert "Payment cancelled" in page


def test_a_forged_webhook_is_refused_and_changes_nothing(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe
):
    started = _start(client, stripe_shop)
    submit(started.location + "/pay")
    _, headers, body = fake_stripe.sent_events[0]
    forged = body.replace(b'"amount_total": 10000', b'"amount_total": 1')
    response = client.post(stripe_shop.hook, data=forged + b" ", headers=headers, csrf=False)
    assert response.status_code == 400
    bad = dict(headers, **{"Stripe-Signature": "t=1,v1=00"})
    assert client.post(stripe_shop.hook, data=body, headers=bad, csrf=False).status_code == 400
    unknown = client.post(stripe_shop.hook + "x", data=body, headers=headers, csrf=False)
    assert unknown.status_code == 404
    assert _payments() == []


def test_a_refund_from_the_business_goes_through_stripe_once(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe
):
    _pay(client, stripe_shop, fake_stripe)
    [payment] = _payments()
    actor = stripe_shop.team.actor(Role.ACCOUNTANT)
    refund = payment_service.refund_payment(actor, payment.public_id, Decimal("30"), date.today())
    assert refund.provider_refund_id and refund.provider_refund_id.startswith("re_")
    assert fake_stripe.get(refund.provider_refund_id)["amount"] == 3000
    before = len(fake_stripe.sent_events)
    fake_stripe.refund_from_dashboard(payment.provider_payment_id, 2000)
    assert set(post_events(client, stripe_shop.hook, fake_stripe.sent_events[before:])) == {200}
    refunds = list(db.session.scalars(select(Refund).order_by(Refund.id)))
    assert [r.amount_minor for r in refunds] == [3000, 2000]
    doc = _invoice(stripe_shop)
    balances.refresh(doc)
    assert doc.balance_minor == 5000 and doc.status == "partially_paid"


def test_a_dispute_shows_with_its_deadline_and_a_loss_reopens_the_invoice(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe
):
    _pay(client, stripe_shop, fake_stripe)
    [payment] = _payments()
    before = len(fake_stripe.sent_events)
    dispute_id = fake_stripe.open_dispute(payment.provider_payment_id)
    fake_stripe.close_dispute(dispute_id, "lost")
    events = fake_stripe.sent_events[before:]
    # Out of order: the closing event first, then the opening one, then both again.
    assert set(post_events(client, stripe_shop.hook, list(reversed(events)) + events)) == {200}
    dispute = db.session.scalar(select(Dispute))
    assert dispute is not None and dispute.closed and dispute.status == "lost"
    assert dispute.evidence_due_by is not None
    doc = _invoice(stripe_shop)
    assert doc.balance_minor == doc.amount_due_minor
    assert [r.reference for r in db.session.scalars(select(Refund))] == ["Dispute lost"]


def test_a_refund_before_its_payment_waits_and_then_applies(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe
):
    started = _start(client, stripe_shop)
    submit(started.location + "/pay")
    paid = list(fake_stripe.sent_events)
    pi = paid[0][0]["data"]["object"]["payment_intent"]
    fake_stripe.refund_from_dashboard(pi, 1000)
    refund_events = fake_stripe.sent_events[len(paid) :]
    assert set(post_events(client, stripe_shop.hook, refund_events)) == {200}
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
    assert set(post_events(client, stripe_shop.hook, paid)) == {200}
    [refund] = db.session.scalars(select(Refund))
    assert refund.amount_minor == 1000
    assert re.match(r"Stripe refund re_", refund.reference)


def test_turning_a_provider_off_removes_its_button_at_once(
    client: FlaskClient, stripe_shop: PayShop
) -> None:
    from portal.services import payment_accounts

    assert "Pay with Stripe" in client.get(f"/pay/{stripe_shop.token}").get_data(as_text=True)
    payment_accounts.set_enabled(stripe_shop.team.actor(Role.ADMIN), "stripe", False)
    page = client.get(f"/pay/{stripe_shop.token}").get_data(as_text=True)
    assert "Pay with Stripe" not in page
