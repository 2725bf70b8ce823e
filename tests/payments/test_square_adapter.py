"""The Square adapter against a fake Square that checks every exchange against Square's spec."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from integrations.payments.base import (
    CheckoutRequest,
    EventKind,
    GatewayConfig,
    GatewayError,
    NotSupported,
    PaymentEvent,
    RefundRequest,
    WebhookRejected,
)
from integrations.payments.square import SIGNATURE_HEADER, SquareGateway
from tests.fakes.spec_server import load_spec
from tests.fakes.square_api import FakeSquare

SUCCESS_URL = "https://invoices.example/pay/chk_123/done"


@pytest.fixture
def fake() -> Iterator[FakeSquare]:
    with FakeSquare() as fake:
        yield fake
        assert fake.problems == []


@pytest.fixture
def gateway(fake: FakeSquare) -> SquareGateway:
    return SquareGateway(config(fake))


def config(fake: FakeSquare, **credentials: str) -> GatewayConfig:
    return GatewayConfig(
        "square",
        fake.base,
        {
            "access_token": fake.access_token,
            "location_id": fake.location_id,
            "webhook_signature_key": fake.signature_key,
            "notification_url": fake.notification_url,
            **credentials,
        },
        timeout=5,
    )


def checkout_request(**overrides: Any) -> CheckoutRequest:
    fields: dict[str, Any] = {
        "reference": "chk_123",
        "amount_minor": 12345,
        "currency": "USD",
        "description": "Invoice INV-2026-0001 from Acme Ltd",
        "success_url": SUCCESS_URL,
        "cancel_url": "https://invoices.example/pay/chk_123",
        "idempotency_key": "checkout-chk_123",
        "customer_email": "payer@client.example",
    }
    return CheckoutRequest(**{**fields, **overrides})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def submit(url: str, action: str = "pay") -> tuple[int, dict[str, str], str]:
    """Press a button on the hosted page as a browser would, without following the redirect."""
    data = urllib.parse.urlencode({"action": action, "email": "payer@client.example"}).encode()
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data, method="POST"), timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def paid_checkout(fake: FakeSquare, gateway: SquareGateway, **overrides: Any) -> str:
    """A link paid on the hosted page; its payment id."""
    checkout = gateway.create_checkout(checkout_request(**overrides))
    status, _, _ = submit(checkout.url)
    assert status == 303
    (payment_id,) = [p["id"] for p in fake.payments.values() if p["status"] == "COMPLETED"]
    return str(payment_id)


def events_of(gateway: SquareGateway, fake: FakeSquare, start: int = 0) -> list[PaymentEvent]:
    return [e for h, b in fake.sent_events[start:] for e in gateway.parse_webhook(h, b)]


def types_sent(fake: FakeSquare) -> list[str]:
    return [json.loads(body)["type"] for _, body in fake.sent_events]


def signed(fake: FakeSquare, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(event).encode()
    mac = hmac.new(fake.signature_key.encode(), fake.notification_url.encode() + body, "sha256")
    return {SIGNATURE_HEADER: base64.b64encode(mac.digest()).decode()}, body


# -- payment links -------------------------------------------------------------------------------


def test_checkout_is_a_payment_link_for_one_line_of_the_amount(fake, gateway):
    checkout = gateway.create_checkout(checkout_request())

    link = fake.links[checkout.provider_id]
    assert checkout.url == link["url"] == f"{fake.base}/checkout/{checkout.provider_id}"
    order = fake.orders[link["order_id"]]
    assert order["reference_id"] == "chk_123"
    assert order["location_id"] == fake.location_id
    (item,) = order["line_items"]
    assert item["name"] == "Invoice INV-2026-0001 from Acme Ltd"
    assert item["quantity"] == "1"
    assert item["base_price_money"] == {"amount": 12345, "currency": "USD"}
    assert order["total_money"] == {"amount": 12345, "currency": "USD"}
    assert link["checkout_options"] == {"redirect_url": SUCCESS_URL}
    assert link["pre_populated_data"] == {"buyer_email": "payer@client.example"}
    assert fake.problems == []


def test_a_zero_decimal_currency_passes_through_in_minor_units(fake, gateway):
    checkout = gateway.create_checkout(checkout_request(amount_minor=5000, currency="JPY"))

    order = fake.orders[fake.links[checkout.provider_id]["order_id"]]
    assert order["total_money"] == {"amount": 5000, "currency": "JPY"}
    with urllib.request.urlopen(checkout.url, timeout=5) as page:
        assert "JPY 5000<" in page.read().decode()


def test_the_same_idempotency_key_gives_the_same_link(fake, gateway):
    first = gateway.create_checkout(checkout_request())
    again = gateway.create_checkout(checkout_request())
    other = gateway.create_checkout(checkout_request(idempotency_key="checkout-chk_124"))

    assert again == first
    assert other.provider_id != first.provider_id
    assert len(fake.links) == len(fake.orders) == 2


def test_an_idempotency_key_reused_for_another_amount_is_refused(fake, gateway):
    gateway.create_checkout(checkout_request())

    with pytest.raises(GatewayError, match=re.escape("retried with the same request data")) as e:
        gateway.create_checkout(checkout_request(amount_minor=99))
    assert (e.value.retryable, e.value.status) == (False, 400)
    assert len(fake.links) == 1


def test_wallets_are_offered_and_unknown_methods_refused(fake, gateway):
    methods = ("card", "apple_pay", "google_pay")
    checkout = gateway.create_checkout(checkout_request(payment_methods=methods))

    options = fake.links[checkout.provider_id]["checkout_options"]
    assert options["accepted_payment_methods"] == {"apple_pay": True, "google_pay": True}
    with pytest.raises(NotSupported, match=re.escape("['sepa_debit']")):
        gateway.create_checkout(checkout_request(payment_methods=("card", "sepa_debit")))


def test_the_platform_fee_goes_on_the_link(fake):
    gateway = SquareGateway(
        GatewayConfig("square", fake.base, config(fake).credentials, application_fee_minor=250)
    )
    checkout = gateway.create_checkout(checkout_request())

    options = fake.links[checkout.provider_id]["checkout_options"]
    assert options["app_fee_money"] == {"amount": 250, "currency": "USD"}


# -- the hosted page and the payment -------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.buttons: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "button":
            self._in_button = True
            self.buttons.append("")
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_button:
            self.buttons[-1] += data


def test_the_hosted_page_shows_what_is_paid_and_offers_no_way_back(gateway):
    checkout = gateway.create_checkout(checkout_request())

    with urllib.request.urlopen(checkout.url, timeout=5) as answer:
        page = _Page()
        page.feed(answer.read().decode())
    assert "Invoice INV-2026-0001 from Acme Ltd" in page.text
    assert "USD 123.45" in page.text
    assert page.buttons == ["Complete payment", "Decline card"]
    assert page.links == []  # Square has no cancel URL


def test_paying_redirects_as_square_does_and_sends_created_then_updated(fake, gateway):
    checkout = gateway.create_checkout(checkout_request())

    status, headers, _ = submit(checkout.url)

    order_id = fake.links[checkout.provider_id]["order_id"]
    assert status == 303
    assert headers["Location"] == f"{SUCCESS_URL}?transactionId={order_id}&orderId={order_id}"
    assert types_sent(fake) == ["payment.created", "payment.updated"]
    created, updated = (gateway.parse_webhook(h, b) for h, b in fake.sent_events)
    assert created == []  # APPROVED: nothing has happened to the money yet
    (event,) = updated
    payment = next(iter(fake.payments.values()))
    assert event.kind is EventKind.PAYMENT_SUCCEEDED
    assert event.event_id == json.loads(fake.sent_events[1][1])["event_id"]
    assert event.provider_payment_id == payment["id"]
    assert (event.amount_minor, event.currency) == (12345, "USD")
    assert event.fee_minor == 336  # 2.6 % of 123.45 is 3.2097, + 0.15, half up
    assert event.reference == "chk_123"
    assert event.payment_method == "card"
    assert event.occurred_at.tzinfo is not None
    assert fake.problems == []


def test_a_redirect_url_with_a_query_keeps_it(fake, gateway):
    checkout = gateway.create_checkout(checkout_request(success_url=SUCCESS_URL + "?lang=fr"))

    _, headers, _ = submit(checkout.url)

    assert headers["Location"].startswith(SUCCESS_URL + "?lang=fr&transactionId=")


def test_the_fee_rounds_half_up_to_whole_minor_units(fake, gateway):
    paid_checkout(fake, gateway, amount_minor=2500)  # 65 + 15 exactly

    (event,) = events_of(gateway, fake)
    assert event.fee_minor == 80


def test_confirm_before_paying_is_none_and_after_is_the_payment_every_time(fake, gateway):
    checkout = gateway.create_checkout(checkout_request())
    assert gateway.confirm_checkout(checkout.provider_id) is None

    submit(checkout.url)
    first = gateway.confirm_checkout(checkout.provider_id)
    again = gateway.confirm_checkout(checkout.provider_id)

    payment_id = next(iter(fake.payments))
    assert first is not None
    assert first == again
    assert first.kind is EventKind.PAYMENT_SUCCEEDED
    assert first.event_id == f"payment:{payment_id}"
    assert first.provider_payment_id == payment_id
    assert (first.amount_minor, first.currency, first.fee_minor) == (12345, "USD", 336)
    assert first.reference == "chk_123"
    (webhook,) = events_of(gateway, fake)
    assert webhook.provider_payment_id == first.provider_payment_id
    assert fake.problems == []


def test_paying_twice_makes_one_payment(fake, gateway):
    checkout = gateway.create_checkout(checkout_request())

    first = submit(checkout.url)
    second = submit(checkout.url)

    assert first[0] == second[0] == 303
    assert first[1]["Location"] == second[1]["Location"]
    assert len(fake.payments) == 1


def test_a_declined_card_is_a_failed_payment_and_the_link_stays_payable(fake, gateway):
    checkout = gateway.create_checkout(checkout_request())

    status, _, page = submit(checkout.url, "decline")

    assert status == 402
    assert "Your card was declined." in page
    assert types_sent(fake) == ["payment.created"]
    (event,) = events_of(gateway, fake)
    assert event.kind is EventKind.PAYMENT_FAILED
    assert event.reference == "chk_123"
    assert event.amount_minor == 12345
    assert "GENERIC_DECLINE" in event.failure_message
    assert gateway.confirm_checkout(checkout.provider_id) is None

    assert submit(checkout.url)[0] == 303
    assert gateway.confirm_checkout(checkout.provider_id) is not None
    assert fake.problems == []


def test_a_payment_that_carries_the_reference_needs_no_order(fake, gateway):
    event = copy.deepcopy(
        load_spec("square/api.json")["components"]["schemas"]["PaymentUpdatedEvent"]["example"]
    )
    event["data"]["object"]["payment"]["reference_id"] = "chk_999"

    (parsed,) = gateway.parse_webhook(*signed(fake, event))

    assert parsed.reference == "chk_999"
    assert parsed.provider_payment_id == "hYy9pRFVxpDsO1FB05SunFWUe9JZY"
    assert parsed.occurred_at == datetime(2020, 2, 6, 21, 27, 34, 308000, tzinfo=UTC)
    assert fake.requests == []


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def test_webhooks_are_posted_to_the_webhook_url_in_order(fake, gateway):
    received: list[tuple[dict[str, str], bytes]] = []

    @Request.application
    def receiver(request: Request) -> Response:
        received.append((dict(request.headers), request.get_data()))
        return Response("", 200)

    server = make_server("127.0.0.1", 0, receiver, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        fake.webhook_url = f"http://127.0.0.1:{server.server_port}/hooks/square"
        paid_checkout(fake, gateway)
        fake.wait_for_deliveries()
    finally:
        server.shutdown()
        thread.join(timeout=5)

    assert [body for _, body in received] == [body for _, body in fake.sent_events]
    assert [status for _, status in fake.deliveries] == [200, 200]
    (event,) = [e for h, b in received for e in gateway.parse_webhook(h, b)]
    assert event.kind is EventKind.PAYMENT_SUCCEEDED


def test_replayed_and_reordered_webhooks_parse_to_the_same_events(fake, gateway):
    payment_id = paid_checkout(fake, gateway)
    fake.refund_from_dashboard(payment_id, 1000)
    dispute_id = fake.open_dispute(payment_id)
    fake.resolve_dispute(dispute_id, "LOST")
    once = events_of(gateway, fake)

    replays = [gateway.parse_webhook(h, b) for _ in range(3) for h, b in reversed(fake.sent_events)]

    assert [e for events in replays for e in events] == list(reversed(once)) * 3
    assert len({e.event_id for e in once}) == len(once) == 4


# -- refunds -------------------------------------------------------------------------------------


def refund_request(payment_id: str, amount: int, key: str) -> RefundRequest:
    return RefundRequest(payment_id, amount, "USD", key, reason="Client overpaid")


def test_partial_refunds_then_the_rest_are_idempotent(fake, gateway):
    payment_id = paid_checkout(fake, gateway)
    start = len(fake.sent_events)

    first = gateway.refund(refund_request(payment_id, 4000, "refund-1"))
    again = gateway.refund(refund_request(payment_id, 4000, "refund-1"))
    rest = gateway.refund(refund_request(payment_id, 8345, "refund-2"))

    assert (again.provider_refund_id, again.amount_minor) == (first.provider_refund_id, 4000)
    assert (first.status, first.amount_minor, first.currency) == ("pending", 4000, "USD")
    assert again.status == "succeeded"  # the same refund, as it is now
    assert rest.amount_minor == 8345
    assert len(fake.refunds) == 2
    assert fake.payments[payment_id]["refunded_money"] == {"amount": 12345, "currency": "USD"}
    assert fake.refunds[first.provider_refund_id]["reason"] == "Client overpaid"
    assert types_sent(fake)[start:] == ["refund.created", "refund.updated"] * 2
    succeeded = events_of(gateway, fake, start)
    assert [(e.kind, e.provider_refund_id, e.amount_minor) for e in succeeded] == [
        (EventKind.REFUND_SUCCEEDED, first.provider_refund_id, 4000),
        (EventKind.REFUND_SUCCEEDED, rest.provider_refund_id, 8345),
    ]
    assert {e.provider_payment_id for e in succeeded} == {payment_id}

    with pytest.raises(GatewayError, match=re.escape("exceeds the amount available")) as e:
        gateway.refund(refund_request(payment_id, 1, "refund-3"))
    assert e.value.retryable is False
    assert fake.problems == []


def test_a_full_refund_settled_later(fake, gateway):
    payment_id = paid_checkout(fake, gateway)
    fake.auto_complete_refunds = False

    result = gateway.refund(refund_request(payment_id, 12345, "refund-full"))

    assert result.status == "pending"
    assert events_of(gateway, fake, len(fake.sent_events) - 1) == []  # refund.created, PENDING
    fake.complete_refund(result.provider_refund_id)
    (event,) = events_of(gateway, fake, len(fake.sent_events) - 1)
    assert (event.kind, event.amount_minor) == (EventKind.REFUND_SUCCEEDED, 12345)


def test_a_refund_the_bank_refuses_is_refund_failed(fake, gateway):
    payment_id = paid_checkout(fake, gateway)
    fake.auto_complete_refunds = False
    result = gateway.refund(refund_request(payment_id, 500, "refund-x"))

    fake.complete_refund(result.provider_refund_id, "FAILED")

    (event,) = events_of(gateway, fake, len(fake.sent_events) - 1)
    assert event.kind is EventKind.REFUND_FAILED
    assert event.provider_refund_id == result.provider_refund_id


def test_a_refund_from_the_dashboard_arrives_as_events(fake, gateway):
    payment_id = paid_checkout(fake, gateway)
    start = len(fake.sent_events)

    refund_id = fake.refund_from_dashboard(payment_id, 2345)

    assert types_sent(fake)[start:] == ["refund.created", "refund.updated"]
    (event,) = events_of(gateway, fake, start)
    assert event.kind is EventKind.REFUND_SUCCEEDED
    assert (event.provider_refund_id, event.provider_payment_id) == (refund_id, payment_id)
    assert (event.amount_minor, event.currency) == (2345, "USD")


# -- disputes ------------------------------------------------------------------------------------


def test_a_dispute_opens_moves_and_closes(fake, gateway):
    payment_id = paid_checkout(fake, gateway)
    start = len(fake.sent_events)

    dispute_id = fake.open_dispute(payment_id, reason="NOT_AS_DESCRIBED")
    fake.set_dispute_state(dispute_id, "PROCESSING")
    fake.resolve_dispute(dispute_id, "WON")

    opened, updated, closed = events_of(gateway, fake, start)
    assert [e.kind for e in (opened, updated, closed)] == [
        EventKind.DISPUTE_OPENED,
        EventKind.DISPUTE_UPDATED,
        EventKind.DISPUTE_CLOSED,
    ]
    assert [e.dispute_status for e in (opened, updated, closed)] == [
        "evidence_required",
        "processing",
        "won",
    ]
    assert {e.provider_dispute_id for e in (opened, updated, closed)} == {dispute_id}
    assert {e.provider_payment_id for e in (opened, updated, closed)} == {payment_id}
    assert opened.dispute_reason == "not_as_described"
    assert (opened.amount_minor, opened.currency) == (12345, "USD")
    due = datetime.fromisoformat(fake.disputes[dispute_id]["due_at"])
    assert opened.evidence_due_by == due
    assert fake.problems == []


def test_a_disputed_payment_cannot_be_refunded(fake, gateway):
    payment_id = paid_checkout(fake, gateway)
    fake.open_dispute(payment_id)

    with pytest.raises(GatewayError, match=re.escape("The payment is disputed.")):
        gateway.refund(refund_request(payment_id, 100, "refund-d"))


def test_the_dispute_shape_of_square_examples_parses_too(fake, gateway):
    """Square's own examples put the dispute under ``dispute``; the spec names it ``object``."""
    example = load_spec("square/api.json")["components"]["schemas"]["DisputeCreatedEvent"]
    (event,) = gateway.parse_webhook(*signed(fake, example["example"]))

    assert event.kind is EventKind.DISPUTE_OPENED
    assert event.provider_dispute_id == "ORSEVtZAJxb37RA1EiGw"
    assert event.provider_payment_id == "fbmsaEOpoARDKxiSGH1fqPuqoqFZY"
    assert event.evidence_due_by == datetime(2020, 3, 4, tzinfo=UTC)


def test_events_we_do_not_use_give_nothing(fake, gateway):
    event = {"type": "order.updated", "event_id": "e-1", "data": {"type": "order", "id": "o"}}

    assert gateway.parse_webhook(*signed(fake, event)) == []


# -- webhook signatures --------------------------------------------------------------------------


def a_webhook(fake: FakeSquare, gateway: SquareGateway) -> tuple[dict[str, str], bytes]:
    paid_checkout(fake, gateway)
    return fake.sent_events[-1]


def test_a_webhook_signed_with_another_key_is_rejected(fake, gateway):
    headers, body = a_webhook(fake, gateway)
    other = SquareGateway(config(fake, webhook_signature_key="another-key"))

    with pytest.raises(WebhookRejected, match="signature"):
        other.parse_webhook(headers, body)


def test_a_tampered_body_is_rejected(fake, gateway):
    headers, body = a_webhook(fake, gateway)

    with pytest.raises(WebhookRejected, match="signature"):
        gateway.parse_webhook(headers, body.replace(b'"amount":12345', b'"amount":1'))


def test_a_webhook_for_another_notification_url_is_rejected(fake, gateway):
    headers, body = a_webhook(fake, gateway)
    other = SquareGateway(config(fake, notification_url="https://elsewhere.example/hooks/square"))

    with pytest.raises(WebhookRejected, match="signature"):
        other.parse_webhook(headers, body)


def test_a_webhook_without_signature_or_json_is_rejected(fake, gateway):
    headers, body = a_webhook(fake, gateway)
    lower = {k.lower(): v for k, v in headers.items()}
    assert gateway.parse_webhook(lower, body)  # header names are case-insensitive

    with pytest.raises(WebhookRejected, match=SIGNATURE_HEADER):
        gateway.parse_webhook({"Content-Type": "application/json"}, body)
    not_json = b"{not json"
    mac = hmac.new(
        fake.signature_key.encode(), fake.notification_url.encode() + not_json, hashlib.sha256
    )
    with pytest.raises(WebhookRejected, match="not JSON"):
        gateway.parse_webhook({SIGNATURE_HEADER: base64.b64encode(mac.digest()).decode()}, not_json)


def test_no_signature_key_configured_trusts_nothing(fake, gateway):
    headers, body = a_webhook(fake, gateway)
    unconfigured = SquareGateway(config(fake, webhook_signature_key=""))

    with pytest.raises(WebhookRejected, match="signature_key"):
        unconfigured.parse_webhook(headers, body)


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status"),
    [("rate_limited", 429), ("server_error", 500), ("service_unavailable", 503)],
)
def test_rate_limits_and_server_errors_are_retryable_and_tried_once(fake, gateway, answer, status):
    fake.answers.append(answer)
    calls = len(fake.requests)

    with pytest.raises(GatewayError) as e:
        gateway.create_checkout(checkout_request())

    assert (e.value.retryable, e.value.status) == (True, status)
    assert len(fake.requests) == calls + 1
    assert gateway.create_checkout(checkout_request()).url.startswith(fake.base)


def test_an_unreachable_square_is_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gateway = SquareGateway(
        GatewayConfig(
            "square", f"http://127.0.0.1:{port}", {"access_token": "t", "location_id": "L"}
        )
    )

    with pytest.raises(GatewayError) as e:
        gateway.create_checkout(checkout_request())
    assert e.value.retryable is True


def test_a_refused_request_is_not_retryable_and_says_why(fake, gateway):
    with pytest.raises(GatewayError, match=re.escape("Could not find payment nope.")) as e:
        gateway.refund(refund_request("nope", 100, "refund-404"))
    assert (e.value.retryable, e.value.status) == (False, 404)


def test_a_wrong_token_is_not_retryable(fake):
    gateway = SquareGateway(config(fake, access_token="revoked"))

    with pytest.raises(GatewayError, match=re.escape("could not be authorized")) as e:
        gateway.create_checkout(checkout_request())
    assert (e.value.retryable, e.value.status) == (False, 401)


def test_a_missing_credential_is_said_at_once(fake):
    with pytest.raises(GatewayError, match="location_id"):
        SquareGateway(GatewayConfig("square", fake.base, {"access_token": "t"}))
