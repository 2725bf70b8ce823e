"""Refunds and dispute evidence from the invoice page, against the fake Stripe.

The business pays back part of a client's online payment with the refund form on the invoice
page, and answers a dispute with the evidence form: both go through the official SDK to the
fake, which keeps what it was sent.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import lxml.html
import pytest
from flask import current_app
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import Dispute, Document, Payment, Refund, Role
from tests.fakes.stripe_api import FakeStripe
from tests.payments.conftest import PayShop, post_events, submit

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _pay(client: FlaskClient, shop: PayShop, fake: FakeStripe) -> Payment:
    started = client.post(f"/pay/{shop.token}/checkout", data={"provider": "stripe"})
    assert started.status_code == 303, started.get_data(as_text=True)
    submit(started.location + "/pay")
    assert set(post_events(client, shop.hook, fake.sent_events)) == {200}
    [payment] = db.session.scalars(select(Payment))
    return payment


def _invoice(shop: PayShop) -> Document:
    doc = db.session.get_one(Document, shop.invoice.id)
    db.session.refresh(doc)
    return doc


def _page(client: FlaskClient, shop: PayShop) -> Any:
    response = client.get(f"/app/invoices/{shop.invoice.public_id}")
    assert response.status_code == 200
    return lxml.html.fromstring(response.get_data(as_text=True))


def _by_id(page: Any, element_id: str) -> Any:
    return page.get_element_by_id(element_id)


def _text(page: Any, element_id: str) -> str:
    return " ".join(_by_id(page, element_id).text_content().split())


def _forms(page: Any, element_id: str) -> list[Any]:
    return list(_by_id(page, element_id).xpath(".//form"))


def _amount_field(node: Any) -> str:
    [field] = node.xpath(".//input[@name='amount']")
    return str(field.get("value"))


def _refunds_at_stripe(fake: FakeStripe) -> list[dict[str, Any]]:
    with fake.lock:
        return [dict(o) for o in fake.objects.values() if o.get("object") == "refund"]


def _stripe() -> FlaskClient:
    """Stripe's own client for webhooks: it never carries the business's session cookie (a
    request with it and Stripe's user agent would end that session)."""
    return current_app.test_client()


def _calls(fake: FakeStripe, method: str, path: str) -> list[dict[str, Any]]:
    return [c for c in fake.api_calls if c["method"] == method and c["path"].startswith(path)]


@pytest.fixture
def paid(
    client: FlaskClient,
    stripe_shop: PayShop,
    fake_stripe: FakeStripe,
    login: Callable[..., FlaskClient],
) -> Payment:
    """The invoice paid in full through Stripe, and an accountant logged in."""
    payment = _pay(client, stripe_shop, fake_stripe)
    login(Role.ACCOUNTANT)
    return payment


# --------------------------------------------------------------------------- refunds


def test_the_invoice_page_offers_a_refund_of_what_is_left(
    client: FlaskClient, stripe_shop: PayShop, paid: Payment
) -> None:
    page = _page(client, stripe_shop)
    [form] = _forms(page, f"online-{paid.public_id}")
    assert form.get("action") == f"/app/payments/{paid.public_id}/refund"
    assert _amount_field(form) == "100.00"
    assert "Refund through Stripe" in form.text_content()
    assert _text(page, "invoice-balance") == "€0.00"


def test_a_part_refund_reaches_stripe_once_and_reopens_the_invoice(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe, paid: Payment
) -> None:
    url = f"/app/payments/{paid.public_id}/refund"
    response = client.post(url, data={"amount": "30.00"})
    assert response.status_code == 303
    assert response.location == f"/app/invoices/{stripe_shop.invoice.public_id}#online-payments"
    assert "Refunded €30.00" in client.get(response.location).get_data(as_text=True)

    [at_stripe] = _refunds_at_stripe(fake_stripe)
    assert at_stripe["amount"] == 3000
    assert at_stripe["payment_intent"] == paid.provider_payment_id
    [call] = _calls(fake_stripe, "POST", "/v1/refunds")
    assert call["headers"]["Idempotency-Key"] == f"refund-{paid.public_id}-1-3000"
    [refund] = db.session.scalars(select(Refund))
    assert refund.amount_minor == 3000 and refund.provider_refund_id == at_stripe["id"]
    # Stripe's charge.refunded webhook for it, even three times, changes nothing here.
    for _ in range(3):
        assert set(post_events(_stripe(), stripe_shop.hook, fake_stripe.sent_events)) == {200}
    assert len(db.session.scalars(select(Refund)).all()) == 1

    doc = _invoice(stripe_shop)
    assert doc.balance_minor == 3000 and doc.status == "partially_paid"
    page = _page(client, stripe_shop)
    assert _text(page, "invoice-balance") == "€30.00"
    row = _by_id(page, f"online-{paid.public_id}")
    assert "€30.00" in row.text_content() and at_stripe["id"] in row.text_content()
    assert _amount_field(row) == "70.00"


def test_the_refund_form_sent_twice_refunds_once(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe, paid: Payment
) -> None:
    [form] = _forms(_page(client, stripe_shop), f"online-{paid.public_id}")
    fields = {f.get("name"): f.get("value") or "" for f in form.xpath(".//input[@name]")}
    fields["amount"] = "30.00"
    for _ in range(2):
        assert client.post(form.get("action"), data=fields).status_code == 303
    assert [r["amount"] for r in _refunds_at_stripe(fake_stripe)] == [3000]
    assert [r.amount_minor for r in db.session.scalars(select(Refund))] == [3000]
    assert _invoice(stripe_shop).balance_minor == 3000


def test_refunding_the_rest_leaves_no_refund_form(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe, paid: Payment
) -> None:
    url = f"/app/payments/{paid.public_id}/refund"
    assert client.post(url, data={"amount": "40"}).status_code == 303
    done = client.post(url, data={"amount": "60"}, follow_redirects=True)
    assert "Refunded €60.00" in done.get_data(as_text=True)
    assert sorted(r["amount"] for r in _refunds_at_stripe(fake_stripe)) == [4000, 6000]
    page = _page(client, stripe_shop)
    assert _forms(page, f"online-{paid.public_id}") == []
    assert _text(page, "invoice-balance") == "€100.00"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("100.01", "That is more than is left of the payment to refund."),
        ("0", "The amount must be greater than 0."),
        ("0.00", "The amount must be greater than 0."),
        ("-5", "The amount must be greater than 0."),
        ("abc", "Enter the amount to refund in EUR, like 25.00."),
        ("", "Enter the amount to refund in EUR, like 25.00."),
        ("12.345", "Enter an amount EUR can hold."),
        ("NaN", "Enter an amount EUR can hold."),
    ],
)
def test_a_bad_refund_amount_is_explained_and_changes_nothing(
    client: FlaskClient,
    stripe_shop: PayShop,
    fake_stripe: FakeStripe,
    paid: Payment,
    amount: str,
    message: str,
) -> None:
    response = client.post(
        f"/app/payments/{paid.public_id}/refund", data={"amount": amount}, follow_redirects=True
    )
    assert response.status_code == 200
    page: Any = lxml.html.fromstring(response.get_data(as_text=True))
    assert message in page.text_content()
    assert _calls(fake_stripe, "POST", "/v1/refunds") == []
    assert db.session.scalars(select(Refund)).all() == []
    doc = _invoice(stripe_shop)
    assert doc.balance_minor == 0 and doc.status == "paid"


def test_a_refund_of_more_than_is_left_after_a_first_one_is_refused(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe, paid: Payment
) -> None:
    url = f"/app/payments/{paid.public_id}/refund"
    assert client.post(url, data={"amount": "80"}).status_code == 303
    refused = client.post(url, data={"amount": "20.01"}, follow_redirects=True)
    assert "That is more than is left of the payment to refund." in refused.get_data(as_text=True)
    assert [r["amount"] for r in _refunds_at_stripe(fake_stripe)] == [8000]
    assert _invoice(stripe_shop).balance_minor == 8000


# --------------------------------------------------------------------------- disputes


def _dispute(shop: PayShop, fake: FakeStripe, payment: Payment) -> str:
    """The payer's bank opens a dispute; Stripe tells the app. Returns Stripe's dispute id."""
    before = len(fake.sent_events)
    dispute_id = fake.open_dispute(payment.provider_payment_id or "")
    assert set(post_events(_stripe(), shop.hook, fake.sent_events[before:])) == {200}
    return dispute_id


def test_an_open_dispute_shows_its_deadline_on_the_invoice_page(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe, paid: Payment
) -> None:
    dispute_id = _dispute(stripe_shop, fake_stripe, paid)
    due_by = fake_stripe.get(dispute_id)["evidence_details"]["due_by"]
    deadline = datetime.fromtimestamp(due_by, UTC).strftime("%Y-%m-%d")
    dispute = db.session.scalar(select(Dispute))
    assert dispute is not None
    page = _page(client, stripe_shop)
    row = _text(page, f"dispute-{dispute.public_id}")
    assert "Disputed €100.00" in row and "fraudulent" in row
    assert "status needs response" in row
    assert f"respond by {deadline}" in row
    [form] = _forms(page, f"dispute-{dispute.public_id}")
    assert form.xpath(".//textarea[@name='text']") and form.xpath(".//input[@name='file']")


def test_evidence_sent_from_the_invoice_page_reaches_stripe(
    client: FlaskClient, stripe_shop: PayShop, fake_stripe: FakeStripe, paid: Payment
) -> None:
    dispute_id = _dispute(stripe_shop, fake_stripe, paid)
    dispute = db.session.scalar(select(Dispute))
    assert dispute is not None
    text = "Delivered on 3 March; the client signed the delivery note."
    url = f"/app/disputes/{dispute.public_id}/evidence"
    sent = client.post(
        url,
        data={"text": text, "file": (io.BytesIO(PDF), "delivery note.pdf")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303
    assert sent.location == f"/app/invoices/{stripe_shop.invoice.public_id}#online-payments"

    at_stripe = fake_stripe.get(dispute_id)
    assert at_stripe["evidence"]["uncategorized_text"] == text
    file_id = at_stripe["evidence"]["uncategorized_file"]
    assert fake_stripe.get(file_id)["purpose"] == "dispute_evidence"
    assert fake_stripe.get(file_id)["filename"] == "delivery note.pdf"
    assert fake_stripe.file_content(file_id) == PDF
    assert at_stripe["evidence_details"]["submission_count"] == 1
    assert at_stripe["status"] == "under_review"

    db.session.refresh(dispute)
    assert dispute.evidence_submitted_at is not None and dispute.status == "under_review"
    page = _page(client, stripe_shop)
    row = _text(page, f"dispute-{dispute.public_id}")
    assert "status under review" in row and "evidence sent" in row
    assert _forms(page, f"dispute-{dispute.public_id}") == []

    # Sent once: a second post is refused and Stripe hears nothing more.
    calls = len(_calls(fake_stripe, "POST", "/v1/disputes"))
    again = client.post(
        url,
        data={"text": text, "file": (io.BytesIO(PDF), "delivery note.pdf")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Evidence was already sent for this dispute." in again.get_data(as_text=True)
    assert len(_calls(fake_stripe, "POST", "/v1/disputes")) == calls == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"text": "Delivered."}, "Attach the signed quote, the delivery note or the"),
        ({"file": "pdf"}, "Say in a few sentences what was delivered and when."),
        ({"text": "Delivered.", "file": "txt"}, "Attach a PDF, JPEG or PNG file."),
    ],
)
def test_incomplete_evidence_is_explained_and_not_sent(
    client: FlaskClient,
    stripe_shop: PayShop,
    fake_stripe: FakeStripe,
    paid: Payment,
    form: dict[str, str],
    message: str,
) -> None:
    _dispute(stripe_shop, fake_stripe, paid)
    dispute = db.session.scalar(select(Dispute))
    assert dispute is not None
    data: dict[str, Any] = {"text": form.get("text", "")}
    if form.get("file") == "pdf":
        data["file"] = (io.BytesIO(PDF), "note.pdf")
    elif form.get("file") == "txt":
        data["file"] = (io.BytesIO(b"plain words"), "note.txt")
    response = client.post(
        f"/app/disputes/{dispute.public_id}/evidence",
        data=data,
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert message in response.get_data(as_text=True)
    assert _calls(fake_stripe, "POST", "/v1/files") == []
    assert _calls(fake_stripe, "POST", "/v1/disputes") == []
    db.session.refresh(dispute)
    assert dispute.evidence_submitted_at is None
