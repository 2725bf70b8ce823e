"""The Stripe adapter against the spec-checking fake: what it sends, what it makes of the answers
and of the webhooks Stripe would send."""

from __future__ import annotations

import http.server
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from integrations.payments.base import (
    CheckoutRequest,
    EventKind,
    GatewayConfig,
    GatewayError,
    PaymentEvent,
    RefundRequest,
    WebhookRejected,
)
from integrations.payments.stripe import STRIPE_API_VERSION, StripeGateway
from tests.fakes.stripe_api import FakeStripe, stripe_fee


@pytest.fixture(scope="module")
def server() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeStripe) -> Iterator[FakeStripe]:
    """One server per module (the spec takes seconds to load); each test sees its own events."""
    with server.lock:
        server.sent_events.clear()
        server.problems.clear()
        server.answers.clear()
        server.api_calls.clear()
    yield server
    assert server.problems == [], "\n".join(server.problems)


def config(fake: FakeStripe, **overrides: Any) -> GatewayConfig:
    credentials = {"secret_key": fake.secret_key, "webhook_secret": fake.webhook_secret}
    credentials.update(overrides.pop("credentials", {}))
    return GatewayConfig("stripe", fake.base, credentials, timeout=10, **overrides)


def checkout_request(**overrides: Any) -> CheckoutRequest:
    values: dict[str, Any] = {
        "reference": "chk_7Qp2",
        "amount_minor": 12_345,
        "currency": "EUR",
        "description": "Invoice INV-2026-0001 from Acme Ltd",
        "success_url": "http://portal.test/pay/done?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://portal.test/pay/cancel",
        "idempotency_key": f"checkout-{secrets.token_hex(6)}",
        "customer_email": "payer@example.com",
    }
    values.update(overrides)
    return CheckoutRequest(**values)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def press(url: str, button: str) -> tuple[int, str, str]:
    """Press a button of the hosted page as a browser would: (status, Location, page text)."""
    page = urllib.request.urlopen(url).read().decode()
    match = re.search(
        r'<form method="post" action="([^"]+)">\s*<button type="submit">'
        + re.escape(button)
        + "</button>",
        page,
    )
    assert match, f"no {button!r} button on {page}"
    target = urllib.parse.urljoin(url, match.group(1))
    opener = urllib.request.build_opener(NoRedirect)
    try:
        answer = opener.open(urllib.request.Request(target, data=b"", method="POST"))
        return answer.status, answer.headers.get("Location", ""), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode()


def deliveries(fake: FakeStripe, gateway: StripeGateway) -> list[PaymentEvent]:
    found: list[PaymentEvent] = []
    for _, headers, body in list(fake.sent_events):
        found.extend(gateway.parse_webhook(headers, body))
    return found


def paid_checkout(fake: FakeStripe, gateway: StripeGateway, **overrides: Any) -> str:
    """A checkout paid on the hosted page; the PaymentIntent's id."""
    checkout = gateway.create_checkout(checkout_request(**overrides))
    status, _, _ = press(checkout.url, "Complete payment")
    assert status == 303
    return str(fake.get(checkout.provider_id)["payment_intent"])


# ---------------------------------------------------------------- checkout


def test_checkout_session_carries_amount_currency_metadata_and_methods(fake: FakeStripe) -> None:
    gateway = StripeGateway(config(fake))
    checkout = gateway.create_checkout(
        checkout_request(
            payment_methods=("card", "sepa_debit"),
            save_payment_method=True,
            idempotency_key="checkout-chk_7Qp2-v1",
        )
    )

    assert checkout.url == f"{fake.base}/checkout/{checkout.provider_id}"
    session = fake.get(checkout.provider_id)
    assert session["mode"] == "payment"
    assert (session["amount_total"], session["currency"]) == (12_345, "eur")
    assert session["payment_method_types"] == ["card", "sepa_debit"]
    assert session["client_reference_id"] == "chk_7Qp2"
    assert session["metadata"] == {"reference": "chk_7Qp2"}
    assert session["customer_email"] == "payer@example.com"
    assert session["success_url"] == checkout_request().success_url
    call = fake.api_calls[-1]
    assert call["headers"]["Idempotency-Key"] == "checkout-chk_7Qp2-v1"
    assert call["headers"]["Stripe-Version"] == STRIPE_API_VERSION == "2023-08-16"
    assert call["params"]["line_items"] == [
        {
            "quantity": "1",
            "price_data": {
                "currency": "eur",
                "unit_amount": "12345",
                "product_data": {"name": "Invoice INV-2026-0001 from Acme Ltd"},
            },
        }
    ]
    assert call["params"]["payment_intent_data"] == {
        "metadata": {"reference": "chk_7Qp2"},
        "setup_future_usage": "off_session",
    }
    assert "Stripe-Account" not in call["headers"]


def test_same_idempotency_key_gives_the_same_session_and_other_body_is_refused(
    fake: FakeStripe,
) -> None:
    gateway = StripeGateway(config(fake))
    request = checkout_request(idempotency_key="checkout-same-key")
    first = gateway.create_checkout(request)
    again = gateway.create_checkout(request)
    assert again == first

    with pytest.raises(GatewayError, match=re.escape("can only be used with the same")) as caught:
        gateway.create_checkout(
            checkout_request(idempotency_key="checkout-same-key", amount_minor=1)
        )
    assert (caught.value.retryable, caught.value.status) == (False, 400)


def test_paying_on_the_hosted_page_sends_events_that_parse_into_one_payment(
    fake: FakeStripe,
) -> None:
    gateway = StripeGateway(config(fake))
    checkout = gateway.create_checkout(checkout_request())
    page = urllib.request.urlopen(checkout.url).read().decode()
    assert "Invoice INV-2026-0001 from Acme Ltd" in page
    assert "EUR 123.45" in page
    assert f'href="{checkout_request().cancel_url}">Cancel</a>' in page

    status, location, _ = press(checkout.url, "Complete payment")

    assert status == 303
    assert location == f"http://portal.test/pay/done?session_id={checkout.provider_id}"
    assert [event["type"] for event, _, _ in fake.sent_events] == [
        "checkout.session.completed",
        "payment_intent.succeeded",
    ]
    events = deliveries(fake, gateway)
    assert {event.kind for event in events} == {EventKind.PAYMENT_SUCCEEDED}
    intent_id = fake.get(checkout.provider_id)["payment_intent"]
    fee = stripe_fee(12_345)
    assert fee == 388  # 357.005 rounded half up, plus 30
    for event in events:
        assert event.provider_payment_id == intent_id
        assert (event.amount_minor, event.currency, event.fee_minor) == (12_345, "EUR", fee)
        assert event.reference == "chk_7Qp2"
        assert event.payment_method == "card"
        assert event.occurred_at.tzinfo is UTC
    assert len({event.event_id for event in events}) == 2


def test_confirm_checkout_is_none_before_paying_and_the_payment_after(fake: FakeStripe) -> None:
    gateway = StripeGateway(config(fake))
    checkout = gateway.create_checkout(checkout_request(idempotency_key="confirm-1"))
    assert gateway.confirm_checkout(checkout.provider_id) is None

    press(checkout.url, "Complete payment")
    confirmed = gateway.confirm_checkout(checkout.provider_id)

    assert confirmed is not None
    assert confirmed.kind is EventKind.PAYMENT_SUCCEEDED
    assert confirmed.event_id == f"checkout:{checkout.provider_id}"
    assert confirmed.provider_payment_id == fake.get(checkout.provider_id)["payment_intent"]
    assert (confirmed.amount_minor, confirmed.currency) == (12_345, "EUR")
    assert confirmed.fee_minor == stripe_fee(12_345)
    assert confirmed.reference == "chk_7Qp2"
    assert gateway.confirm_checkout(checkout.provider_id) == confirmed


def test_declined_card_is_a_failed_payment_and_a_later_success_the_same_payment(
    fake: FakeStripe,
) -> None:
    gateway = StripeGateway(config(fake))
    checkout = gateway.create_checkout(checkout_request(idempotency_key="decline-1"))

    status, _, page = press(checkout.url, "Decline card")

    assert status == 402
    assert "Your card was declined." in page
    (failed,) = deliveries(fake, gateway)
    assert failed.kind is EventKind.PAYMENT_FAILED
    assert failed.failure_message == "Your card was declined."
    assert (failed.amount_minor, failed.currency, failed.reference) == (12_345, "EUR", "chk_7Qp2")
    assert gateway.confirm_checkout(checkout.provider_id) is None

    fake.sent_events.clear()
    press(checkout.url, "Complete payment")
    paid = deliveries(fake, gateway)
    assert {event.provider_payment_id for event in paid} == {failed.provider_payment_id}


def test_event_types_we_do_not_use_give_nothing(fake: FakeStripe) -> None:
    gateway = StripeGateway(config(fake))
    body = json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": "customer.created",
            "created": 1,
            "data": {"object": {"id": "cus_1", "object": "customer"}},
        }
    ).encode()
    assert gateway.parse_webhook({"Stripe-Signature": fake.sign(body)}, body) == []


# ---------------------------------------------------------------- refunds


def test_full_and_partial_refunds_are_idempotent(fake: FakeStripe) -> None:
    gateway = StripeGateway(config(fake))
    intent_id = paid_checkout(fake, gateway, idempotency_key="refund-checkout")

    partial = RefundRequest(intent_id, 2_345, "EUR", "refund-1", reason="Goodwill")
    first = gateway.refund(partial)
    again = gateway.refund(partial)
    assert again == first
    assert (first.status, first.amount_minor, first.currency) == ("succeeded", 2_345, "EUR")
    assert fake.get(first.provider_refund_id)["metadata"] == {"reason": "Goodwill"}

    rest = gateway.refund(RefundRequest(intent_id, 10_000, "EUR", "refund-2"))
    assert rest.amount_minor == 10_000
    charge = fake.get(fake.get(intent_id)["latest_charge"])
    assert (charge["amount_refunded"], charge["refunded"]) == (12_345, True)

    with pytest.raises(
        GatewayError, match=re.escape("is greater than unrefunded amount")
    ) as caught:
        gateway.refund(RefundRequest(intent_id, 1, "EUR", "refund-3"))
    assert caught.value.retryable is False


def test_dashboard_refunds_become_one_refund_event_each(fake: FakeStripe) -> None:
    gateway = StripeGateway(config(fake))
    intent_id = paid_checkout(fake, gateway, idempotency_key="dashboard-checkout")
    fake.sent_events.clear()

    first = fake.refund_from_dashboard(intent_id, 1_000)
    second = fake.refund_from_dashboard(intent_id, 345)

    events = deliveries(fake, gateway)
    refunds = {event.provider_refund_id: event for event in events}
    assert set(refunds) == {first, second}
    assert {event.kind for event in events} == {EventKind.REFUND_SUCCEEDED}
    assert refunds[first].amount_minor == 1_000
    assert refunds[second].amount_minor == 345
    assert {event.provider_payment_id for event in events} == {intent_id}
    assert len({event.event_id for event in events}) == len(events)


# ---------------------------------------------------------------- disputes


def test_dispute_opened_evidence_submitted_and_closed(fake: FakeStripe) -> None:
    gateway = StripeGateway(config(fake))
    intent_id = paid_checkout(fake, gateway, idempotency_key="dispute-checkout")
    fake.sent_events.clear()

    dispute_id = fake.open_dispute(intent_id, reason="fraudulent")
    (opened,) = deliveries(fake, gateway)
    assert opened.kind is EventKind.DISPUTE_OPENED
    assert (opened.provider_dispute_id, opened.provider_payment_id) == (dispute_id, intent_id)
    assert (opened.dispute_status, opened.dispute_reason) == ("needs_response", "fraudulent")
    assert (opened.amount_minor, opened.currency, opened.reference) == (12_345, "EUR", "chk_7Qp2")
    assert opened.evidence_due_by is not None
    due_in = opened.evidence_due_by - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < due_in <= timedelta(days=7)

    fake.sent_events.clear()
    status = gateway.submit_dispute_evidence(
        dispute_id, "Delivered and signed for.", "receipt.pdf", b"%PDF-1.7 proof", "application/pdf"
    )
    assert status == "under_review"
    dispute = fake.get(dispute_id)
    assert dispute["evidence"]["uncategorized_text"] == "Delivered and signed for."
    uploaded = dispute["evidence"]["uncategorized_file"]
    assert fake.get(uploaded)["purpose"] == "dispute_evidence"
    assert fake.get(uploaded)["filename"] == "receipt.pdf"
    assert fake.file_content(uploaded) == b"%PDF-1.7 proof"
    (updated,) = deliveries(fake, gateway)
    assert (updated.kind, updated.dispute_status) == (EventKind.DISPUTE_UPDATED, "under_review")

    fake.sent_events.clear()
    fake.close_dispute(dispute_id, status="won")
    (closed,) = deliveries(fake, gateway)
    assert (closed.kind, closed.dispute_status) == (EventKind.DISPUTE_CLOSED, "won")
    assert closed.provider_payment_id == intent_id

    with pytest.raises(GatewayError, match="PDF, JPEG or PNG"):
        gateway.submit_dispute_evidence(dispute_id, "x", "a.exe", b"MZ", "application/x-dosexec")


# ---------------------------------------------------------------- saved cards


def test_saved_card_is_charged_off_session_and_a_decline_is_final(fake: FakeStripe) -> None:
    gateway = StripeGateway(config(fake))
    setup = gateway.create_setup_checkout(
        "client_42",
        "payer@example.com",
        "http://portal.test/saved",
        "http://portal.test/no",
        "setup-client_42",
    )
    assert fake.get(setup.provider_id)["mode"] == "setup"
    assert gateway.saved_method(setup.provider_id) is None

    status, location, _ = press(setup.url, "Complete payment")
    assert (status, location) == (303, "http://portal.test/saved")
    assert [event["type"] for event, _, _ in fake.sent_events] == ["checkout.session.completed"]
    assert deliveries(fake, gateway) == []  # a saved card is no payment

    saved = gateway.saved_method(setup.provider_id)
    assert saved is not None
    assert saved.label == "Visa •••• 4242"
    assert fake.get(saved.customer_id)["email"] == "payer@example.com"
    assert fake.get(saved.payment_method_id)["customer"] == saved.customer_id

    paid = gateway.charge_saved_method(
        saved.customer_id, saved.payment_method_id, 5_000, "EUR", "chk_rec1", "recurring-1-v1"
    )
    assert paid.kind is EventKind.PAYMENT_SUCCEEDED
    assert (paid.amount_minor, paid.currency, paid.fee_minor) == (5_000, "EUR", stripe_fee(5_000))
    assert paid.reference == "chk_rec1"
    intent = fake.get(paid.provider_payment_id)
    assert intent["metadata"] == {"reference": "chk_rec1"}
    assert intent["customer"] == saved.customer_id

    fake.decline_off_session(saved.payment_method_id)
    with pytest.raises(GatewayError, match=re.escape("Your card was declined.")) as caught:
        gateway.charge_saved_method(
            saved.customer_id, saved.payment_method_id, 5_000, "EUR", "chk_rec2", "recurring-2-v1"
        )
    assert (caught.value.retryable, caught.value.status) == (False, 402)


# ---------------------------------------------------------------- Connect and payouts


def test_connected_account_onboarding_and_application_fee(fake: FakeStripe) -> None:
    platform = StripeGateway(config(fake))
    account_id = platform.create_connected_account("owner@acme.test")
    assert account_id.startswith("acct_")
    assert fake.get(account_id)["email"] == "owner@acme.test"

    link = platform.onboarding_link(
        account_id, "http://portal.test/connect/again", "http://portal.test/connect/done"
    )
    assert link.startswith(f"{fake.base}/connect/onboarding/")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirected:
        opener.open(urllib.request.Request(link, data=b"", method="POST"))
    assert redirected.value.headers["Location"] == "http://portal.test/connect/done"
    assert fake.get(account_id)["charges_enabled"] is True

    connected = StripeGateway(
        config(fake, credentials={"account_id": account_id}, application_fee_minor=150)
    )
    checkout = connected.create_checkout(checkout_request(idempotency_key="connect-1"))
    assert fake.api_calls[-1]["headers"]["Stripe-Account"] == account_id
    assert fake.owner[checkout.provider_id] == account_id
    with pytest.raises(GatewayError, match=re.escape("No such checkout.session")) as caught:
        platform.confirm_checkout(checkout.provider_id)
    assert caught.value.status == 404

    press(checkout.url, "Complete payment")
    intent = fake.get(fake.get(checkout.provider_id)["payment_intent"])
    assert intent["application_fee_amount"] == 150
    events = deliveries(fake, connected)
    assert {event.provider_payment_id for event in events} == {intent["id"]}
    assert all(event["account"] == account_id for event, _, _ in fake.sent_events)


def test_application_fee_only_on_a_connected_account(fake: FakeStripe) -> None:
    gateway = StripeGateway(config(fake, application_fee_minor=150))
    gateway.create_checkout(checkout_request(idempotency_key="no-connect-fee"))
    assert "application_fee_amount" not in fake.api_calls[-1]["params"]["payment_intent_data"]


def test_payouts_newest_first(fake: FakeStripe) -> None:
    older = fake.add_payout(10_000, "eur", arrival_date=1_767_225_600)
    newer = fake.add_payout(2_500, "eur", status="in_transit")
    payouts = StripeGateway(config(fake)).payouts(limit=20)
    ours = [payout for payout in payouts if payout.id in (older, newer)]
    assert [payout.id for payout in ours] == [newer, older]
    assert (ours[1].amount_minor, ours[1].currency, ours[1].status) == (10_000, "EUR", "paid")
    assert ours[1].arrival_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert ours[0].status == "in_transit"


# ---------------------------------------------------------------- webhooks


def test_replayed_and_reordered_events_parse_the_same(fake: FakeStripe) -> None:
    gateway = StripeGateway(config(fake))
    intent_id = paid_checkout(fake, gateway, idempotency_key="replay-checkout")
    fake.refund_from_dashboard(intent_id, 500)
    sent = list(fake.sent_events)

    once = [gateway.parse_webhook(headers, body) for _, headers, body in sent]
    replays = [
        gateway.parse_webhook(headers, body)
        for _ in range(3)
        for _, headers, body in reversed(sent)
    ]
    assert {e.event_id for batch in replays for e in batch} == {
        e.event_id for batch in once for e in batch
    }


def test_webhook_with_wrong_secret_tampered_body_or_stale_time_is_rejected(
    fake: FakeStripe,
) -> None:
    gateway = StripeGateway(config(fake))
    paid_checkout(fake, gateway, idempotency_key="reject-checkout")
    _, headers, body = fake.sent_events[0]
    assert gateway.parse_webhook(headers, body)

    wrong = StripeGateway(config(fake, credentials={"webhook_secret": "whsec_other"}))
    with pytest.raises(WebhookRejected):
        wrong.parse_webhook(headers, body)
    with pytest.raises(WebhookRejected):
        gateway.parse_webhook(headers, body.replace(b"12345", b"1"))
    stale = fake.sign(body, timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookRejected):
        gateway.parse_webhook({"Stripe-Signature": stale}, body)
    with pytest.raises(WebhookRejected):
        gateway.parse_webhook({}, body)
    not_json = b"{not json"
    with pytest.raises(WebhookRejected):
        gateway.parse_webhook({"Stripe-Signature": fake.sign(not_json)}, not_json)


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize(("answer", "status"), [("rate_limited", 429), ("server_error", 500)])
def test_rate_limit_and_server_errors_are_retryable(
    fake: FakeStripe, answer: str, status: int
) -> None:
    fake.answers.append(answer)
    with pytest.raises(GatewayError) as caught:
        StripeGateway(config(fake)).create_checkout(checkout_request(idempotency_key=answer))
    assert (caught.value.retryable, caught.value.status) == (True, status)


def test_unreachable_stripe_is_retryable(fake: FakeStripe) -> None:
    closed = GatewayConfig("stripe", "http://127.0.0.1:9", {"secret_key": "sk_test_fake"})
    with pytest.raises(GatewayError) as caught:
        StripeGateway(closed).create_checkout(checkout_request())
    assert caught.value.retryable is True


def test_bad_request_and_bad_key_are_final_with_stripes_message(fake: FakeStripe) -> None:
    with pytest.raises(
        GatewayError, match=re.escape("No such payment_intent: 'pi_missing'")
    ) as caught:
        StripeGateway(config(fake)).refund(RefundRequest("pi_missing", 100, "EUR", "refund-x"))
    assert (caught.value.retryable, caught.value.status) == (False, 404)

    with pytest.raises(GatewayError, match=re.escape("Invalid API Key provided")) as caught:
        StripeGateway(config(fake, credentials={"secret_key": "sk_test_wrong"})).payouts()
    assert (caught.value.retryable, caught.value.status) == (False, 401)


# ---------------------------------------------------------------- the fake itself


def post_form(fake: FakeStripe, path: str, body: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        fake.base + path,
        data=body.encode(),
        headers={
            "Authorization": f"Bearer {fake.secret_key}",
            "Stripe-Version": STRIPE_API_VERSION,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_fake_checks_nested_form_bodies_against_the_spec(server: FakeStripe) -> None:
    good = (
        "mode=payment&success_url=http://portal.test/ok"
        "&line_items[0][price_data][currency]=eur&line_items[0][quantity]=1"
        "&line_items[0][price_data][product_data][name]=Invoice"
        "&line_items[0][price_data][unit_amount]={amount}"
    )
    server.problems.clear()
    status, _ = post_form(server, "/v1/checkout/sessions", good.format(amount=100))
    assert (status, server.problems) == (200, [])

    status, _ = post_form(server, "/v1/checkout/sessions", good.format(amount="ten"))
    assert status == 400
    assert "  CastError(value='ten', type='integer')" in server.problems

    server.problems.clear()
    post_form(server, "/v1/checkout/sessions", good.format(amount=100) + "&locale=xx")
    assert any("locale" in problem and "is not one of" in problem for problem in server.problems)

    server.problems.clear()
    status, answer = post_form(
        server, "/v1/checkout/sessions", good.format(amount=1) + "&colour=red"
    )
    assert status == 400
    assert answer["error"]["message"] == "Received unknown parameter: colour"
    assert server.problems == ["POST /v1/checkout/sessions: unknown parameter 'colour'"]
    server.problems.clear()


def test_webhooks_are_delivered_to_the_url_and_the_receiver_may_call_back(
    fake: FakeStripe,
) -> None:
    """The receiver parses while the fake waits for its answer: a ``charge.refunded`` makes the
    adapter list refunds from inside the delivery, which must not deadlock the fake."""
    gateway = StripeGateway(config(fake))
    parsed: list[PaymentEvent] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            parsed.extend(gateway.parse_webhook(dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    fake.webhook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/stripe"
    try:
        intent_id = paid_checkout(fake, gateway)
        refund_id = fake.refund_from_dashboard(intent_id, 45)
    finally:
        fake.webhook_url = None
        receiver.shutdown()
        receiver.server_close()
        thread.join(timeout=5)

    assert [kind for _, kind in fake.deliveries[-3:]] == [200, 200, 200]
    assert [event.kind for event in parsed] == [
        EventKind.PAYMENT_SUCCEEDED,
        EventKind.PAYMENT_SUCCEEDED,
        EventKind.REFUND_SUCCEEDED,
    ]
    assert (parsed[-1].provider_refund_id, parsed[-1].amount_minor) == (refund_id, 45)
