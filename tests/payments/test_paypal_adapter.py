"""PayPalGateway against the fake PayPal, which checks every call against PayPal's specs."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from integrations.payments.base import (
    Checkout,
    CheckoutRequest,
    EventKind,
    GatewayConfig,
    GatewayError,
    PaymentEvent,
    RefundRequest,
    WebhookRejected,
)
from integrations.payments.paypal import PayPalGateway
from tests.fakes.paypal_api import FakePayPal

RETURN_URL = "https://invoices.example.com/pay/chk_1/return"
CANCEL_URL = "https://invoices.example.com/pay/chk_1/cancel"


@pytest.fixture
def fake() -> Iterator[FakePayPal]:
    with FakePayPal() as server:
        yield server


@pytest.fixture
def gateway(fake: FakePayPal) -> PayPalGateway:
    return PayPalGateway(GatewayConfig("paypal", fake.base, fake.credentials, timeout=5))


def checkout_request(**overrides: Any) -> CheckoutRequest:
    values: dict[str, Any] = {
        "reference": "chk_1",
        "amount_minor": 12345,
        "currency": "EUR",
        "description": "Invoice INV-2026-0001 from Acme Ltd",
        "success_url": RETURN_URL,
        "cancel_url": CANCEL_URL,
        "idempotency_key": "checkout-chk_1-v1",
    }
    values.update(overrides)
    return CheckoutRequest(**values)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def pay_on_hosted_page(checkout: Checkout) -> str:
    """Submit the approval form as the payer's browser would; the redirect target."""
    opener = urllib.request.build_opener(_NoRedirect)
    form = urllib.request.Request(checkout.url, data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(form, timeout=5)
    answer.value.close()
    assert answer.value.code == 303
    return str(answer.value.headers["Location"])


def paid(fake: FakePayPal, gateway: PayPalGateway, **overrides: Any) -> PaymentEvent:
    checkout = gateway.create_checkout(checkout_request(**overrides))
    pay_on_hosted_page(checkout)
    event = gateway.confirm_checkout(checkout.provider_id)
    assert event is not None
    return event


def events_of(fake: FakePayPal, event_type: str) -> list[tuple[dict[str, str], bytes]]:
    return [(h, b) for h, b in fake.sent_events if json.loads(b)["event_type"] == event_type]


# -- checkout ------------------------------------------------------------------------------


def test_checkout_creates_a_capture_order_with_amount_reference_and_return_urls(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    checkout = gateway.create_checkout(checkout_request())

    held = fake.orders[checkout.provider_id]
    order = held["order"]
    unit = order["purchase_units"][0]
    assert order["intent"] == "CAPTURE"
    assert unit["amount"] == {"currency_code": "EUR", "value": "123.45"}
    assert unit["custom_id"] == "chk_1"
    assert unit["invoice_id"] == "chk_1"
    assert unit["description"] == "Invoice INV-2026-0001 from Acme Ltd"
    assert held["return_url"] == RETURN_URL
    assert held["cancel_url"] == CANCEL_URL
    assert held["request_id"] == "checkout-chk_1-v1"
    assert checkout.url == f"{fake.base}/checkoutnow?token={checkout.provider_id}"
    assert fake.problems == []


def test_zero_decimal_currency_is_sent_without_decimals(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    checkout = gateway.create_checkout(checkout_request(amount_minor=1500, currency="JPY"))

    unit = fake.orders[checkout.provider_id]["order"]["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "JPY", "value": "1500"}
    assert fake.problems == []


def test_currencies_paypal_takes_in_whole_units(fake: FakePayPal, gateway: PayPalGateway) -> None:
    checkout = gateway.create_checkout(checkout_request(amount_minor=150000, currency="HUF"))

    unit = fake.orders[checkout.provider_id]["order"]["purchase_units"][0]
    assert unit["amount"] == {"currency_code": "HUF", "value": "1500"}
    with pytest.raises(GatewayError, match=re.escape("PayPal takes HUF in whole units only")):
        gateway.create_checkout(checkout_request(amount_minor=150050, currency="HUF"))
    assert len(fake.orders) == 1
    assert fake.problems == []


def test_the_same_idempotency_key_gives_the_same_order(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    first = gateway.create_checkout(checkout_request())
    again = gateway.create_checkout(checkout_request())

    assert again == first
    assert len(fake.orders) == 1
    assert fake.problems == []


def test_hosted_page_shows_the_payment_and_sends_the_payer_back(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    checkout = gateway.create_checkout(checkout_request())

    with urllib.request.urlopen(checkout.url, timeout=5) as page:
        text = page.read().decode()
    assert "Invoice INV-2026-0001 from Acme Ltd" in text
    assert "123.45 EUR" in text
    assert re.search(r"<button[^>]*>Complete payment</button>", text)
    assert f'<a href="{CANCEL_URL}?token={checkout.provider_id}">Cancel</a>' in text

    target = pay_on_hosted_page(checkout)
    assert target == f"{RETURN_URL}?token={checkout.provider_id}&PayerID=FAKEPAYER"
    assert fake.orders[checkout.provider_id]["order"]["status"] == "APPROVED"
    assert fake.problems == []


def test_confirm_captures_once_even_when_called_twice(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    checkout = gateway.create_checkout(checkout_request())
    pay_on_hosted_page(checkout)

    first = gateway.confirm_checkout(checkout.provider_id)
    second = gateway.confirm_checkout(checkout.provider_id)

    assert first is not None
    assert second == first
    assert fake.capture_requests == [checkout.provider_id]
    capture_id = first.provider_payment_id
    assert capture_id in fake.captures
    assert first.kind is EventKind.PAYMENT_SUCCEEDED
    assert first.event_id == f"capture:{capture_id}"
    assert first.amount_minor == 12345
    assert first.currency == "EUR"
    assert first.reference == "chk_1"
    # 3.49 % of 123.45 is 4.308..., 431 minor units half up, plus 49 fixed.
    assert first.fee_minor == 480
    assert first.occurred_at.tzinfo is not None
    order_id = checkout.provider_id
    assert (f"orders.capture:{order_id}", f"capture-{order_id}") in fake.request_ids
    assert fake.problems == []


def test_payers_returning_at_once_capture_once(fake: FakePayPal, gateway: PayPalGateway) -> None:
    checkout = gateway.create_checkout(checkout_request())
    pay_on_hosted_page(checkout)
    gateways = [
        PayPalGateway(GatewayConfig("paypal", fake.base, fake.credentials)) for _ in range(6)
    ]
    start = threading.Barrier(len(gateways))
    results: list[PaymentEvent | None] = [None] * len(gateways)

    def confirm(index: int) -> None:
        start.wait(timeout=10)
        results[index] = gateways[index].confirm_checkout(checkout.provider_id)

    threads = [threading.Thread(target=confirm, args=(i,)) for i in range(len(gateways))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results[0] is not None
    assert results == [results[0]] * len(gateways)
    assert fake.capture_requests == [checkout.provider_id]
    assert fake.problems == []


def test_a_new_gateway_confirms_an_order_captured_before(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    event = paid(fake, gateway)
    order_id = event.extra["order_id"]

    later = PayPalGateway(GatewayConfig("paypal", fake.base, fake.credentials))
    fake.refund_from_dashboard(event.provider_payment_id, 100)
    assert later.confirm_checkout(order_id) == event
    assert fake.capture_requests == [order_id]
    assert fake.problems == []


def test_confirm_before_approval_is_none_and_captures_nothing(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    checkout = gateway.create_checkout(checkout_request())

    assert gateway.confirm_checkout(checkout.provider_id) is None
    assert fake.capture_requests == []
    assert fake.orders[checkout.provider_id]["order"]["status"] == "PAYER_ACTION_REQUIRED"
    assert fake.problems == []


def test_a_pending_capture_is_not_paid_yet(fake: FakePayPal, gateway: PayPalGateway) -> None:
    checkout = gateway.create_checkout(checkout_request())
    fake.approve(checkout.provider_id)
    fake.answers.append("capture_pending")

    assert gateway.confirm_checkout(checkout.provider_id) is None
    assert len(fake.capture_requests) == 1
    assert fake.problems == []


def test_fee_for_a_zero_decimal_currency(fake: FakePayPal, gateway: PayPalGateway) -> None:
    event = paid(fake, gateway, amount_minor=1500, currency="JPY")

    # 3.49 % of 1500 is 52.35 -> 52, plus 49.
    assert (event.amount_minor, event.currency, event.fee_minor) == (1500, "JPY", 101)
    assert fake.problems == []


# -- refunds -------------------------------------------------------------------------------


def test_partial_then_full_refund(fake: FakePayPal, gateway: PayPalGateway) -> None:
    capture_id = paid(fake, gateway).provider_payment_id

    part = gateway.refund(RefundRequest(capture_id, 2345, "EUR", "refund-1", reason="Damaged"))
    rest = gateway.refund(RefundRequest(capture_id, 10000, "EUR", "refund-2"))

    assert (part.status, part.amount_minor, part.currency) == ("succeeded", 2345, "EUR")
    assert (rest.status, rest.amount_minor) == ("succeeded", 10000)
    assert fake.refunds[part.provider_refund_id]["amount"] == {
        "currency_code": "EUR",
        "value": "23.45",
    }
    assert fake.refunds[part.provider_refund_id]["note_to_payer"] == "Damaged"
    assert fake.captures[capture_id]["capture"]["status"] == "REFUNDED"
    assert fake.problems == []


def test_a_repeated_refund_key_refunds_once(fake: FakePayPal, gateway: PayPalGateway) -> None:
    capture_id = paid(fake, gateway).provider_payment_id

    first = gateway.refund(RefundRequest(capture_id, 1000, "EUR", "refund-1"))
    again = gateway.refund(RefundRequest(capture_id, 1000, "EUR", "refund-1"))

    assert again == first
    assert len(fake.refunds) == 1
    assert fake.captures[capture_id]["refunded_minor"] == 1000
    assert fake.problems == []


def test_refunding_more_than_is_left_is_refused_for_good(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    capture_id = paid(fake, gateway).provider_payment_id
    gateway.refund(RefundRequest(capture_id, 12000, "EUR", "refund-1"))

    with pytest.raises(GatewayError) as refused:
        gateway.refund(RefundRequest(capture_id, 1000, "EUR", "refund-2"))

    assert refused.value.retryable is False
    assert refused.value.status == 422
    assert "REFUND_AMOUNT_EXCEEDED" in str(refused.value)
    assert (
        "The refund amount must be less than or equal to the capture amount that has not yet"
        " been refunded." in str(refused.value)
    )
    assert fake.problems == []


# -- webhooks ------------------------------------------------------------------------------


def test_capture_completed_webhook_is_verified_and_mapped(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    confirmed = paid(fake, gateway)
    [(headers, body)] = events_of(fake, "PAYMENT.CAPTURE.COMPLETED")

    [event] = gateway.parse_webhook(headers, body)

    assert event.kind is EventKind.PAYMENT_SUCCEEDED
    assert event.event_id == json.loads(body)["id"]
    assert event.provider_payment_id == confirmed.provider_payment_id
    assert (event.amount_minor, event.currency, event.fee_minor) == (12345, "EUR", 480)
    assert event.reference == "chk_1"
    assert event.raw_type == "PAYMENT.CAPTURE.COMPLETED"
    assert fake.problems == []


def test_every_webhook_replayed_three_times_out_of_order_means_the_same(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    capture_id = paid(fake, gateway).provider_payment_id
    fake.refund_from_dashboard(capture_id, 500)
    fake.open_dispute(capture_id)
    sent = list(fake.sent_events)
    first = [gateway.parse_webhook(h, b) for h, b in sent]

    for _ in range(3):
        for index in reversed(range(len(sent))):
            assert gateway.parse_webhook(*sent[index]) == first[index]
    assert len({e.event_id for events in first for e in events}) == sum(map(len, first))
    assert fake.problems == []


def test_order_approved_and_other_event_types_give_nothing(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paid(fake, gateway)
    [(headers, body)] = events_of(fake, "CHECKOUT.ORDER.APPROVED")

    assert gateway.parse_webhook(headers, body) == []
    assert fake.problems == []


def test_refund_from_the_paypal_dashboard(fake: FakePayPal, gateway: PayPalGateway) -> None:
    capture_id = paid(fake, gateway).provider_payment_id
    refund_id = fake.refund_from_dashboard(capture_id, 2000)
    [(headers, body)] = events_of(fake, "PAYMENT.CAPTURE.REFUNDED")

    [event] = gateway.parse_webhook(headers, body)

    assert event.kind is EventKind.REFUND_SUCCEEDED
    assert event.provider_refund_id == refund_id
    assert event.provider_payment_id == capture_id
    assert (event.amount_minor, event.currency) == (2000, "EUR")
    assert event.reference == "chk_1"
    assert fake.problems == []


def test_denied_and_declined_captures_are_failed_payments(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    pending = gateway.create_checkout(checkout_request(idempotency_key="a"))
    fake.approve(pending.provider_id)
    fake.answers.append("capture_pending")
    assert gateway.confirm_checkout(pending.provider_id) is None
    [pending_capture] = [
        capture_id
        for capture_id, held in fake.captures.items()
        if held["order_id"] == pending.provider_id
    ]
    fake.deny_capture(pending_capture)

    declined = gateway.create_checkout(checkout_request(reference="chk_2", idempotency_key="b"))
    fake.approve(declined.provider_id)
    fake.answers.append("capture_declined")
    assert gateway.confirm_checkout(declined.provider_id) is None

    [denied_event] = gateway.parse_webhook(*events_of(fake, "PAYMENT.CAPTURE.DENIED")[0])
    [declined_event] = gateway.parse_webhook(*events_of(fake, "PAYMENT.CAPTURE.DECLINED")[0])
    assert denied_event.kind is EventKind.PAYMENT_FAILED
    assert denied_event.provider_payment_id == pending_capture
    assert (denied_event.reference, denied_event.amount_minor) == ("chk_1", 12345)
    assert denied_event.failure_message
    assert declined_event.kind is EventKind.PAYMENT_FAILED
    assert declined_event.reference == "chk_2"
    assert fake.problems == []


def test_a_pending_capture_that_clears_is_paid_by_webhook(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    checkout = gateway.create_checkout(checkout_request())
    fake.approve(checkout.provider_id)
    fake.answers.append("capture_pending")
    assert gateway.confirm_checkout(checkout.provider_id) is None
    [capture_id] = fake.captures

    fake.complete_capture(capture_id)

    [event] = gateway.parse_webhook(*events_of(fake, "PAYMENT.CAPTURE.COMPLETED")[0])
    assert (event.kind, event.provider_payment_id, event.fee_minor) == (
        EventKind.PAYMENT_SUCCEEDED,
        capture_id,
        480,
    )
    assert gateway.confirm_checkout(checkout.provider_id) is not None
    assert fake.problems == []


def test_dispute_opened_updated_and_closed(fake: FakePayPal, gateway: PayPalGateway) -> None:
    capture_id = paid(fake, gateway).provider_payment_id
    dispute_id = fake.open_dispute(capture_id)
    fake.update_dispute(dispute_id, "UNDER_REVIEW")
    fake.resolve_dispute(dispute_id, "RESOLVED_SELLER_FAVOUR")

    [opened] = gateway.parse_webhook(*events_of(fake, "CUSTOMER.DISPUTE.CREATED")[0])
    [updated] = gateway.parse_webhook(*events_of(fake, "CUSTOMER.DISPUTE.UPDATED")[0])
    [closed] = gateway.parse_webhook(*events_of(fake, "CUSTOMER.DISPUTE.RESOLVED")[0])

    assert opened.kind is EventKind.DISPUTE_OPENED
    assert (opened.provider_dispute_id, opened.provider_payment_id) == (dispute_id, capture_id)
    assert opened.dispute_status == "waiting_for_seller_response"
    assert opened.dispute_reason == "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"
    assert (opened.amount_minor, opened.currency) == (12345, "EUR")
    assert opened.evidence_due_by is not None
    assert opened.evidence_due_by > datetime.now(UTC)
    assert updated.kind is EventKind.DISPUTE_UPDATED
    assert updated.dispute_status == "under_review"
    assert closed.kind is EventKind.DISPUTE_CLOSED
    assert closed.dispute_status == "won"
    assert closed.extra["outcome_code"] == "RESOLVED_SELLER_FAVOUR"
    assert fake.problems == []


def test_a_dispute_lost(fake: FakePayPal, gateway: PayPalGateway) -> None:
    capture_id = paid(fake, gateway).provider_payment_id
    dispute_id = fake.open_dispute(capture_id, reason="UNAUTHORISED")
    fake.resolve_dispute(dispute_id, "RESOLVED_BUYER_FAVOUR")

    [closed] = gateway.parse_webhook(*events_of(fake, "CUSTOMER.DISPUTE.RESOLVED")[0])

    assert (closed.dispute_status, closed.dispute_reason) == ("lost", "UNAUTHORISED")
    assert fake.problems == []


def test_a_forged_signature_is_rejected(fake: FakePayPal, gateway: PayPalGateway) -> None:
    paid(fake, gateway)
    [(headers, body)] = events_of(fake, "PAYMENT.CAPTURE.COMPLETED")
    forged = {
        **headers,
        "PAYPAL-TRANSMISSION-SIG": "Zm9yZ2Vk" + headers["PAYPAL-TRANSMISSION-SIG"][8:],
    }

    with pytest.raises(WebhookRejected):
        gateway.parse_webhook(forged, body)
    assert fake.problems == []


def test_an_unknown_transmission_is_rejected(fake: FakePayPal, gateway: PayPalGateway) -> None:
    paid(fake, gateway)
    [(headers, body)] = events_of(fake, "PAYMENT.CAPTURE.COMPLETED")
    invented = {**headers, "PAYPAL-TRANSMISSION-ID": "0c5a9c1e-5b7e-11ef-8f4a-7f3e2b1a0c9d"}

    with pytest.raises(WebhookRejected):
        gateway.parse_webhook(invented, body)
    assert fake.problems == []


def test_a_changed_body_is_rejected(fake: FakePayPal, gateway: PayPalGateway) -> None:
    paid(fake, gateway)
    [(headers, body)] = events_of(fake, "PAYMENT.CAPTURE.COMPLETED")
    event = json.loads(body)
    event["resource"]["amount"]["value"] = "1.00"

    with pytest.raises(WebhookRejected):
        gateway.parse_webhook(headers, json.dumps(event).encode())
    assert fake.problems == []


def test_another_webhook_id_is_rejected(fake: FakePayPal) -> None:
    other = PayPalGateway(
        GatewayConfig("paypal", fake.base, {**fake.credentials, "webhook_id": "9XY12345678901234"})
    )
    paid(fake, other)
    [(headers, body)] = events_of(fake, "PAYMENT.CAPTURE.COMPLETED")

    with pytest.raises(WebhookRejected):
        other.parse_webhook(headers, body)
    assert fake.problems == []


def test_missing_headers_and_bad_json_are_rejected_without_asking_paypal(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paid(fake, gateway)
    [(headers, body)] = events_of(fake, "PAYMENT.CAPTURE.COMPLETED")
    calls = len(fake.requests)
    without_sig = {k: v for k, v in headers.items() if k != "PAYPAL-TRANSMISSION-SIG"}

    with pytest.raises(WebhookRejected, match="paypal-transmission-sig"):
        gateway.parse_webhook(without_sig, body)
    with pytest.raises(WebhookRejected, match="not JSON"):
        gateway.parse_webhook(headers, b"{not json")
    with pytest.raises(WebhookRejected):
        gateway.parse_webhook(headers, b"[]")
    assert len(fake.requests) == calls
    assert fake.problems == []


def test_header_names_are_matched_whatever_their_case(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paid(fake, gateway)
    [(headers, body)] = events_of(fake, "PAYMENT.CAPTURE.COMPLETED")

    [event] = gateway.parse_webhook({k.title(): v for k, v in headers.items()}, body)

    assert event.kind is EventKind.PAYMENT_SUCCEEDED
    assert fake.problems == []


def test_webhooks_are_posted_to_the_configured_url(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    @Request.application  # type: ignore[misc]
    def receiver(request: Request) -> Response:
        received.append((dict(request.headers), request.get_data()))
        return Response("", 200)

    server = make_server("127.0.0.1", 0, receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        fake.webhook_url = f"http://127.0.0.1:{server.server_port}/hooks/paypal"
        paid(fake, gateway)
        fake.wait_for_deliveries()
    finally:
        server.shutdown()
        thread.join(timeout=5)

    assert [status for _, status in fake.deliveries] == [200, 200]
    kinds = [gateway.parse_webhook(headers, body) for headers, body in received]
    assert kinds[0] == []  # CHECKOUT.ORDER.APPROVED
    assert kinds[1][0].kind is EventKind.PAYMENT_SUCCEEDED
    assert fake.problems == []


# -- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "status"), [("rate_limited", 429), ("server_error", 500)])
def test_rate_limits_and_server_errors_are_retryable(
    fake: FakePayPal, gateway: PayPalGateway, answer: str, status: int
) -> None:
    checkout = gateway.create_checkout(checkout_request())
    fake.answers.append(answer)

    with pytest.raises(GatewayError) as failed:
        gateway.confirm_checkout(checkout.provider_id)

    assert (failed.value.retryable, failed.value.status) == (True, status)
    assert gateway.confirm_checkout(checkout.provider_id) is None  # and then it works
    assert fake.problems == []


def test_a_failing_token_endpoint_is_retryable(fake: FakePayPal, gateway: PayPalGateway) -> None:
    fake.answers.append("server_error")

    with pytest.raises(GatewayError) as failed:
        gateway.create_checkout(checkout_request())

    assert (failed.value.retryable, failed.value.status) == (True, 500)
    assert gateway.create_checkout(checkout_request()).provider_id in fake.orders
    assert fake.problems == []


def test_paypal_out_of_reach_is_retryable() -> None:
    with FakePayPal() as gone:
        base = gone.base
    gateway = PayPalGateway(
        GatewayConfig("paypal", base, {"client_id": "a", "client_secret": "b"}, timeout=2)
    )

    with pytest.raises(GatewayError) as failed:
        gateway.create_checkout(checkout_request())

    assert failed.value.retryable is True


def test_an_unknown_order_is_refused_for_good_with_paypals_message(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    with pytest.raises(GatewayError) as refused:
        gateway.confirm_checkout("5O190127TN364715T")

    assert (refused.value.retryable, refused.value.status) == (False, 404)
    assert "RESOURCE_NOT_FOUND: The specified resource does not exist." in str(refused.value)
    assert "INVALID_RESOURCE_ID" in str(refused.value)
    assert fake.problems == []


def test_wrong_credentials_are_refused_for_good(fake: FakePayPal) -> None:
    gateway = PayPalGateway(
        GatewayConfig("paypal", fake.base, {**fake.credentials, "client_secret": "wrong"})
    )

    with pytest.raises(GatewayError) as refused:
        gateway.create_checkout(checkout_request())

    assert (refused.value.retryable, refused.value.status) == (False, 401)
    assert "invalid_client" in str(refused.value)
    assert fake.orders == {}
    assert fake.problems == []


# -- the access token ----------------------------------------------------------------------


def test_one_token_serves_many_calls(fake: FakePayPal, gateway: PayPalGateway) -> None:
    capture_id = paid(fake, gateway).provider_payment_id
    gateway.refund(RefundRequest(capture_id, 100, "EUR", "refund-1"))
    gateway.parse_webhook(*events_of(fake, "PAYMENT.CAPTURE.COMPLETED")[0])

    assert fake.token_requests == 1
    assert fake.problems == []


def test_a_revoked_token_is_replaced_once(fake: FakePayPal, gateway: PayPalGateway) -> None:
    checkout = gateway.create_checkout(checkout_request())
    fake.revoke_tokens()

    assert gateway.confirm_checkout(checkout.provider_id) is None
    fake.revoke_tokens()
    paid_event = paid(fake, gateway, idempotency_key="other")
    fake.revoke_tokens()
    [event] = gateway.parse_webhook(*events_of(fake, "PAYMENT.CAPTURE.COMPLETED")[0])

    assert event.provider_payment_id == paid_event.provider_payment_id
    assert fake.token_requests == 4
    assert fake.problems == []


# -- the fake itself -----------------------------------------------------------------------


def test_the_fake_reports_a_request_off_the_spec(fake: FakePayPal, gateway: PayPalGateway) -> None:
    gateway.create_checkout(checkout_request())  # a token exists now
    [token] = fake.tokens
    bad = {
        "intent": "CAPTURE",
        "purchase_units": [{"amount": {"currency_code": "EUR", "value": 12.5}}],
    }
    request = urllib.request.Request(
        f"{fake.base}/v2/checkout/orders",
        data=json.dumps(bad).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    refused.value.close()

    assert any("purchase_units/0/amount/value" in problem for problem in fake.problems)
