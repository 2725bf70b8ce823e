"""Square: hosted payment links (Checkout API), refunds, and webhooks, through the official SDK.

Square has no cancel URL: a payer who gives up closes the page, and the link stays payable.
Money is integer minor units on both sides, so amounts pass through unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from square import Square
from square.core.api_error import ApiError
from square.core.request_options import RequestOptions
from square.utils.webhooks_helper import verify_signature

from integrations.payments.base import (
    Checkout,
    CheckoutRequest,
    EventKind,
    GatewayConfig,
    GatewayError,
    NotSupported,
    PaymentEvent,
    RefundRequest,
    RefundResult,
    WebhookRejected,
)

# The API release this adapter is written and tested against (the spec's own release).
SQUARE_VERSION = "2025-08-20"
SIGNATURE_HEADER = "x-square-hmacsha256-signature"

# Jobs retry with their own backoff; the SDK's silent retries would hide a 429 and hold a worker.
_ONE_TRY: RequestOptions = {"max_retries": 0}

# Methods Square's checkout page can offer besides cards, which it always offers.
_WALLETS = frozenset({"apple_pay", "google_pay", "cash_app_pay", "afterpay_clearpay"})
_REFUND_STATUS = {
    "PENDING": "pending",
    "COMPLETED": "succeeded",
    "REJECTED": "failed",
    "FAILED": "failed",
}
_DISPUTE_CLOSED = frozenset({"WON", "LOST", "ACCEPTED", "INQUIRY_CLOSED"})
_REASON_MAX = 192  # RefundPaymentRequest.reason

T = TypeVar("T")


class SquareGateway:
    name = "square"

    def __init__(self, config: GatewayConfig) -> None:
        credentials = config.credentials
        self._location_id = _credential(credentials, "location_id")
        self._signature_key = credentials.get("webhook_signature_key", "")
        self._notification_url = credentials.get("notification_url", "")
        self._application_fee_minor = config.application_fee_minor
        self._client = Square(
            token=_credential(credentials, "access_token"),
            base_url=config.base_url.rstrip("/"),
            version=SQUARE_VERSION,
            # No idle connections are kept, so a gateway needs no closing.
            httpx_client=httpx.Client(
                timeout=config.timeout, limits=httpx.Limits(max_keepalive_connections=0)
            ),
        )

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        money = {"amount": request.amount_minor, "currency": request.currency}
        checkout_options: dict[str, Any] = {"redirect_url": request.success_url}
        wallets = _accepted_payment_methods(request.payment_methods)
        if wallets:
            checkout_options["accepted_payment_methods"] = wallets
        if self._application_fee_minor:
            checkout_options["app_fee_money"] = {
                "amount": self._application_fee_minor,
                "currency": request.currency,
            }
        optional: dict[str, Any] = {}
        if request.customer_email:
            optional["pre_populated_data"] = {"buyer_email": request.customer_email}
        response = _call(
            lambda: self._client.checkout.payment_links.create(
                idempotency_key=request.idempotency_key,
                order={
                    "location_id": self._location_id,
                    "reference_id": request.reference,
                    "line_items": [
                        {"name": request.description, "quantity": "1", "base_price_money": money}
                    ],
                },
                checkout_options=checkout_options,
                request_options=_ONE_TRY,
                **optional,
            )
        )
        link = response.payment_link
        if link is None or not link.id or not link.url:
            raise GatewayError("square: the answer has no payment link", retryable=False)
        return Checkout(provider_id=link.id, url=link.url)

    def confirm_checkout(self, provider_id: str) -> PaymentEvent | None:
        """Square captures on its page; here we only look whether the link's order was paid."""
        link = _call(
            lambda: self._client.checkout.payment_links.get(
                id=provider_id, request_options=_ONE_TRY
            )
        ).payment_link
        if link is None or not link.order_id:
            return None
        order = self._order(link.order_id)
        for tender in order.get("tenders") or ():
            payment_id = tender.get("payment_id") or tender.get("id")
            if not payment_id:
                continue
            payment = self._payment(str(payment_id))
            if payment.get("status") == "COMPLETED":
                return _payment_event(
                    payment,
                    EventKind.PAYMENT_SUCCEEDED,
                    event_id=f"payment:{payment_id}",
                    occurred_at=_time(payment.get("updated_at")) or _now(),
                    reference=_text(order.get("reference_id")),
                    raw_type="payment_link.confirmed",
                )
        return None

    def refund(self, request: RefundRequest) -> RefundResult:
        optional: dict[str, Any] = {}
        if request.reason:
            optional["reason"] = request.reason[:_REASON_MAX]
        refund = _call(
            lambda: self._client.refunds.refund_payment(
                idempotency_key=request.idempotency_key,
                payment_id=request.provider_payment_id,
                amount_money={"amount": request.amount_minor, "currency": request.currency},
                request_options=_ONE_TRY,
                **optional,
            )
        ).refund
        if refund is None:
            raise GatewayError("square: the answer has no refund", retryable=False)
        money = refund.amount_money
        return RefundResult(
            provider_refund_id=refund.id,
            status=_REFUND_STATUS.get(refund.status or "", "pending"),
            amount_minor=money.amount if money.amount is not None else request.amount_minor,
            currency=str(money.currency or request.currency),
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[PaymentEvent]:
        event = self._verified(headers, body)
        event_type = _text(event.get("type")) or ""
        event_id = _text(event.get("event_id"))
        if not event_id:
            raise WebhookRejected("square: the event has no event_id")
        data = _mapping(event.get("data"))
        wrapped = _mapping(data.get("object"))
        occurred_at = _time(event.get("created_at")) or _now()

        if event_type in ("payment.created", "payment.updated"):
            return self._payment_events(_mapping(wrapped.get("payment")), event_id, occurred_at)
        if event_type in ("refund.created", "refund.updated"):
            return _refund_events(_mapping(wrapped.get("refund")), event_id, occurred_at)
        if event_type in ("dispute.created", "dispute.state.updated"):
            # The spec names the member ``object``; Square's own examples send ``dispute``.
            dispute = _mapping(wrapped.get("object") or wrapped.get("dispute"))
            return _dispute_events(dispute, data, event_type, event_id, occurred_at)
        return []

    def _verified(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        signature = _header(headers, SIGNATURE_HEADER)
        if not signature:
            raise WebhookRejected(f"square: no {SIGNATURE_HEADER} header")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise WebhookRejected("square: the body is not UTF-8") from error
        try:
            valid = verify_signature(
                request_body=text,
                signature_header=signature,
                signature_key=self._signature_key,
                notification_url=self._notification_url,
            )
        except ValueError as error:  # no key or URL configured: nothing can be trusted
            raise WebhookRejected(f"square: {error}") from error
        if not valid:
            raise WebhookRejected("square: the signature does not match")
        try:
            event = json.loads(text)
        except ValueError as error:
            raise WebhookRejected("square: the body is not JSON") from error
        if not isinstance(event, dict):
            raise WebhookRejected("square: the body is not a JSON object")
        return event

    def _payment_events(
        self, payment: Mapping[str, Any], event_id: str, occurred_at: datetime
    ) -> list[PaymentEvent]:
        status = payment.get("status")
        if status == "COMPLETED":
            kind = EventKind.PAYMENT_SUCCEEDED
        elif status in ("FAILED", "CANCELED"):
            kind = EventKind.PAYMENT_FAILED
        else:  # APPROVED, PENDING: nothing has happened to the money yet
            return []
        reference = _text(payment.get("reference_id"))
        order_id = _text(payment.get("order_id"))
        if reference is None and order_id:
            # Payments made on a payment link carry our reference on their order only.
            reference = _text(self._order(order_id).get("reference_id"))
        return [
            _payment_event(
                payment,
                kind,
                event_id=event_id,
                occurred_at=occurred_at,
                reference=reference,
                raw_type=f"payment.{str(status).lower()}",
            )
        ]

    def _order(self, order_id: str) -> dict[str, Any]:
        order = _call(
            lambda: self._client.orders.get(order_id=order_id, request_options=_ONE_TRY)
        ).order
        return {} if order is None else order.dict()

    def _payment(self, payment_id: str) -> dict[str, Any]:
        payment = _call(
            lambda: self._client.payments.get(payment_id=payment_id, request_options=_ONE_TRY)
        ).payment
        return {} if payment is None else payment.dict()


def _call(send: Callable[[], T]) -> T:
    """One request to Square; any failure becomes a ``GatewayError`` saying whether to retry."""
    try:
        return send()
    except ApiError as error:
        status = error.status_code
        details = "; ".join(
            part.detail or part.code for part in error.errors if part.detail or part.code
        )
        retryable = status is None or status == 429 or status >= 500
        raise GatewayError(
            f"square: HTTP {status}: {details or 'no detail'}", retryable=retryable, status=status
        ) from error
    except httpx.HTTPError as error:
        raise GatewayError(f"square: {error!r}", retryable=True) from error


def _payment_event(
    payment: Mapping[str, Any],
    kind: EventKind,
    *,
    event_id: str,
    occurred_at: datetime,
    reference: str | None,
    raw_type: str,
) -> PaymentEvent:
    payment_id = _text(payment.get("id"))
    money = _money(payment.get("amount_money"))
    if payment_id is None or money is None:
        raise WebhookRejected("square: the payment has no id or amount")
    fees = [_money(fee.get("amount_money")) for fee in _mappings(payment.get("processing_fee"))]
    fee_minor = sum(fee[0] for fee in fees if fee is not None) if fees else None
    failure = ""
    if kind is EventKind.PAYMENT_FAILED:
        errors = _mappings(_mapping(payment.get("card_details")).get("errors"))
        failure = next(
            (_text(e.get("detail")) or _text(e.get("code")) or "" for e in errors),
            f"payment {str(payment.get('status')).lower()}",
        )
    return PaymentEvent(
        provider="square",
        event_id=event_id,
        kind=kind,
        occurred_at=occurred_at,
        provider_payment_id=payment_id,
        amount_minor=money[0],
        currency=money[1],
        reference=reference,
        fee_minor=fee_minor,
        failure_message=failure,
        payment_method=(_text(payment.get("source_type")) or "").lower(),
        raw_type=raw_type,
        extra={"order_id": _text(payment.get("order_id")) or ""},
    )


def _refund_events(
    refund: Mapping[str, Any], event_id: str, occurred_at: datetime
) -> list[PaymentEvent]:
    status = refund.get("status")
    if status == "COMPLETED":
        kind = EventKind.REFUND_SUCCEEDED
    elif status in ("FAILED", "REJECTED"):
        kind = EventKind.REFUND_FAILED
    else:
        return []
    refund_id = _text(refund.get("id"))
    payment_id = _text(refund.get("payment_id"))
    money = _money(refund.get("amount_money"))
    if refund_id is None or payment_id is None or money is None:
        raise WebhookRejected("square: the refund has no id, payment or amount")
    return [
        PaymentEvent(
            provider="square",
            event_id=event_id,
            kind=kind,
            occurred_at=occurred_at,
            provider_payment_id=payment_id,
            amount_minor=money[0],
            currency=money[1],
            provider_refund_id=refund_id,
            failure_message="" if kind is EventKind.REFUND_SUCCEEDED else f"refund {status}",
            raw_type=f"refund.{str(status).lower()}",
        )
    ]


def _dispute_events(
    dispute: Mapping[str, Any],
    data: Mapping[str, Any],
    event_type: str,
    event_id: str,
    occurred_at: datetime,
) -> list[PaymentEvent]:
    state = _text(dispute.get("state")) or ""
    if event_type == "dispute.created":
        kind = EventKind.DISPUTE_OPENED
    elif state in _DISPUTE_CLOSED:
        kind = EventKind.DISPUTE_CLOSED
    else:
        kind = EventKind.DISPUTE_UPDATED
    dispute_id = (
        _text(dispute.get("id")) or _text(dispute.get("dispute_id")) or _text(data.get("id"))
    )
    payment_id = _text(_mapping(dispute.get("disputed_payment")).get("payment_id"))
    money = _money(dispute.get("amount_money"))
    if dispute_id is None or payment_id is None or money is None:
        raise WebhookRejected("square: the dispute has no id, payment or amount")
    return [
        PaymentEvent(
            provider="square",
            event_id=event_id,
            kind=kind,
            occurred_at=occurred_at,
            provider_payment_id=payment_id,
            amount_minor=money[0],
            currency=money[1],
            provider_dispute_id=dispute_id,
            dispute_status=state.lower() or None,
            dispute_reason=(_text(dispute.get("reason")) or "").lower() or None,
            evidence_due_by=_time(dispute.get("due_at")),
            raw_type=event_type,
        )
    ]


def _accepted_payment_methods(methods: tuple[str, ...]) -> dict[str, bool]:
    unknown = sorted(set(methods) - _WALLETS - {"card"})
    if unknown:
        raise NotSupported(f"square: no such payment method on the checkout page: {unknown}")
    return dict.fromkeys(sorted(_WALLETS & set(methods)), True)


def _credential(credentials: Mapping[str, str], key: str) -> str:
    value = credentials.get(key)
    if not value:
        raise GatewayError(f"square: the credential {key} is missing", retryable=False)
    return value


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _mappings(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _money(value: object) -> tuple[int, str] | None:
    money = _mapping(value)
    amount, currency = money.get("amount"), money.get("currency")
    if isinstance(amount, int) and not isinstance(amount, bool) and isinstance(currency, str):
        return amount, currency
    return None


def _time(value: object) -> datetime | None:
    """RFC 3339 as Square writes it, e.g. ``2020-02-06T21:27:34.308Z``; aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)
