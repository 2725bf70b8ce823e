"""PayPal: Orders v2 for the hosted approval, Payments v2 for refunds, webhooks verified by PayPal.

The official SDK (``paypal-server-sdk``) carries orders, captures, refunds and the OAuth token.
Its ``Configuration`` resolves every URL through ``get_base_uri``; a subclass answers with
``GatewayConfig.base_url``, so the same code talks to PayPal and to a test server. The SDK has no
call for verify-webhook-signature, so that one request goes out through urllib with the SDK's
token. Answers are read from their JSON text rather than the SDK's models, whose absent fields
raise ``AttributeError`` instead of being ``None``.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from apimatic_core.exceptions.auth_validation_exception import AuthValidationException
from paypalserversdk.configuration import Configuration, Server
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.exceptions.o_auth_provider_exception import OAuthProviderException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.payment_source import PaymentSource
from paypalserversdk.models.paypal_experience_user_action import PaypalExperienceUserAction
from paypalserversdk.models.paypal_wallet import PaypalWallet
from paypalserversdk.models.paypal_wallet_experience_context import (
    PaypalWalletExperienceContext,
)
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest as PayPalRefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from integrations.payments.base import (
    Checkout,
    CheckoutRequest,
    EventKind,
    GatewayConfig,
    GatewayError,
    PaymentEvent,
    RefundRequest,
    RefundResult,
    WebhookRejected,
)
from integrations.payments.money import to_decimal_string, to_minor

WEBHOOK_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}

REFUND_STATUS = {
    "COMPLETED": "succeeded",
    "PENDING": "pending",
    "FAILED": "failed",
    "CANCELLED": "failed",
}
PAID_CAPTURE = ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED")
# PayPal takes these in whole units although ISO 4217 gives them two decimals.
WHOLE_UNITS_ONLY = ("HUF", "TWD")
DISPUTE_KIND = {
    "CUSTOMER.DISPUTE.CREATED": EventKind.DISPUTE_OPENED,
    "CUSTOMER.DISPUTE.UPDATED": EventKind.DISPUTE_UPDATED,
    "CUSTOMER.DISPUTE.RESOLVED": EventKind.DISPUTE_CLOSED,
}
DISPUTE_OUTCOME = {"RESOLVED_SELLER_FAVOUR": "won", "RESOLVED_BUYER_FAVOUR": "lost"}


class _Configuration(Configuration):  # type: ignore[misc]  # the SDK ships no type hints
    """The SDK's configuration with one API root instead of its production/sandbox table."""

    def __init__(self, base_url: str, **settings: Any) -> None:
        self._base_url = base_url.rstrip("/")
        super().__init__(**settings)

    def get_base_uri(self, server: Any = Server.DEFAULT) -> str:
        return self._base_url


class PayPalGateway:
    """``PaymentGateway`` for PayPal; one instance keeps one access token until it expires."""

    name = "paypal"

    def __init__(self, config: GatewayConfig) -> None:
        self._config = config
        # Blank credentials are PayPal's to refuse (401 invalid_client, not retryable).
        self._client_id = config.credentials.get("client_id", "")
        self._client_secret = config.credentials.get("client_secret", "")
        self._webhook_id = config.credentials.get("webhook_id", "")
        self._token: Any = None
        self._token_lock = threading.RLock()
        self._client = self._new_client()

    def _new_client(self) -> Any:
        credentials = ClientCredentialsAuthCredentials(
            o_auth_client_id=self._client_id,
            o_auth_client_secret=self._client_secret,
            o_auth_token_provider=lambda _last, _auth: self._access_token(),
        )
        configuration = _Configuration(
            self._config.base_url,
            timeout=self._config.timeout,
            max_retries=0,  # retries belong to the job that calls us, with its backoff
            client_credentials_auth_credentials=credentials,
        )
        return PaypalServersdkClient(config=configuration)

    def _access_token(self) -> Any:
        """The cached token, or a new one (client credentials) once it has expired."""
        with self._token_lock:
            auth = self._client.oauth_2
            if self._token is None or auth.is_token_expired(self._token):
                self._token = auth.fetch_token()
            return self._token

    # -- checkout ----------------------------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        currency = request.currency.upper()
        experience = PaypalWalletExperienceContext(
            return_url=request.success_url,
            cancel_url=request.cancel_url,
            shipping_preference="NO_SHIPPING",
            user_action=PaypalExperienceUserAction.PAY_NOW,
        )
        locale = request.locale.replace("_", "-")
        if _is_paypal_locale(locale):
            experience.locale = locale
        wallet = PaypalWallet(experience_context=experience)
        if request.customer_email:
            wallet.email_address = request.customer_email
        body = OrderRequest(
            intent=CheckoutPaymentIntent.CAPTURE,
            purchase_units=[
                PurchaseUnitRequest(
                    amount=AmountWithBreakdown(
                        currency_code=currency, value=_paypal_value(request.amount_minor, currency)
                    ),
                    custom_id=request.reference,
                    invoice_id=request.reference,
                    description=request.description[:127],
                )
            ],
            payment_source=PaymentSource(paypal=wallet),
        )
        order = self._call(
            lambda: self._client.orders.create_order(
                {"body": body, "paypal_request_id": request.idempotency_key}
            )
        )
        for link in order.get("links", []):
            if link.get("rel") in ("payer-action", "approve"):
                return Checkout(provider_id=str(order["id"]), url=str(link["href"]))
        raise GatewayError(f"PayPal order {order.get('id')} has no approval link", retryable=False)

    def confirm_checkout(self, provider_id: str) -> PaymentEvent | None:
        order = self._call(lambda: self._client.orders.get_order({"id": provider_id}))
        if order.get("status") == "APPROVED":
            try:
                order = self._call(
                    lambda: self._client.orders.capture_order(
                        {
                            "id": provider_id,
                            # The same key on every call: PayPal answers a second capture with
                            # the first one's result instead of capturing again.
                            "paypal_request_id": f"capture-{provider_id}",
                            "prefer": "return=representation",
                        }
                    )
                )
            except GatewayError as error:
                if "ORDER_ALREADY_CAPTURED" not in str(error):
                    raise
                order = self._call(lambda: self._client.orders.get_order({"id": provider_id}))
        if order.get("status") != "COMPLETED":
            return None
        captures = _captures(order)
        if not captures or captures[0].get("status") not in PAID_CAPTURE:
            return None
        capture = captures[0]
        return self._payment_event(
            EventKind.PAYMENT_SUCCEEDED,
            event_id=f"capture:{capture['id']}",
            capture=capture,
            # The capture's creation: later refunds change update_time, not this payment.
            occurred_at=_when(capture.get("create_time") or capture.get("update_time")),
            raw_type="order.captured",
            reference=capture.get("custom_id") or order["purchase_units"][0].get("custom_id"),
            extra={"order_id": provider_id},
        )

    # -- refunds -----------------------------------------------------------------------------

    def refund(self, request: RefundRequest) -> RefundResult:
        currency = request.currency.upper()
        body = PayPalRefundRequest(
            amount=Money(
                currency_code=currency, value=_paypal_value(request.amount_minor, currency)
            )
        )
        if request.reason:
            body.note_to_payer = request.reason[:255]
        refund = self._call(
            lambda: self._client.payments.refund_captured_payment(
                {
                    "capture_id": request.provider_payment_id,
                    "body": body,
                    "paypal_request_id": request.idempotency_key,
                    "prefer": "return=representation",
                }
            )
        )
        amount = refund.get("amount")
        return RefundResult(
            provider_refund_id=str(refund["id"]),
            status=REFUND_STATUS.get(str(refund.get("status")), "pending"),
            amount_minor=_minor(amount) if amount else request.amount_minor,
            currency=amount["currency_code"] if amount else currency,
        )

    # -- webhooks ----------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[PaymentEvent]:
        lowered = {key.lower(): value for key, value in headers.items()}
        missing = [header for header in WEBHOOK_HEADERS.values() if not lowered.get(header)]
        if missing:
            raise WebhookRejected(f"missing headers: {', '.join(missing)}")
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise WebhookRejected(f"body is not JSON: {error}") from error
        if not isinstance(event, dict) or not event.get("id") or not event.get("event_type"):
            raise WebhookRejected("body is not a PayPal webhook event")
        if not self._webhook_id:
            raise WebhookRejected("no webhook_id configured to verify against")
        verification = {field: lowered[header] for field, header in WEBHOOK_HEADERS.items()}
        verification["webhook_id"] = self._webhook_id
        answer = self._post_json(
            "/v1/notifications/verify-webhook-signature",
            {**verification, "webhook_event": event},
        )
        if answer.get("verification_status") != "SUCCESS":
            raise WebhookRejected(
                f"PayPal did not verify transmission {verification['transmission_id']}"
            )
        return self._translate(event)

    def _translate(self, event: dict[str, Any]) -> list[PaymentEvent]:
        event_type = str(event["event_type"])
        resource = event.get("resource") or {}
        occurred_at = _when(event.get("create_time"))
        event_id = str(event["id"])
        if event_type == "PAYMENT.CAPTURE.COMPLETED":
            return [
                self._payment_event(
                    EventKind.PAYMENT_SUCCEEDED,
                    event_id=event_id,
                    capture=resource,
                    occurred_at=occurred_at,
                    raw_type=event_type,
                    reference=resource.get("custom_id"),
                    extra=_order_id(resource),
                )
            ]
        if event_type in ("PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.DECLINED"):
            reason = (resource.get("status_details") or {}).get("reason", "")
            return [
                self._payment_event(
                    EventKind.PAYMENT_FAILED,
                    event_id=event_id,
                    capture=resource,
                    occurred_at=occurred_at,
                    raw_type=event_type,
                    reference=resource.get("custom_id"),
                    failure_message=str(event.get("summary") or reason or event_type),
                    extra=_order_id(resource),
                )
            ]
        if event_type == "PAYMENT.CAPTURE.REFUNDED":
            amount = resource["amount"]
            return [
                PaymentEvent(
                    provider=self.name,
                    event_id=event_id,
                    kind=EventKind.REFUND_SUCCEEDED,
                    occurred_at=occurred_at,
                    provider_payment_id=_capture_id_of_refund(resource),
                    amount_minor=_minor(amount),
                    currency=amount["currency_code"],
                    reference=resource.get("custom_id"),
                    provider_refund_id=str(resource["id"]),
                    payment_method="paypal",
                    raw_type=event_type,
                )
            ]
        if event_type in DISPUTE_KIND:
            return [
                self._dispute_event(
                    DISPUTE_KIND[event_type], event_id, resource, occurred_at, event_type
                )
            ]
        return []

    def _dispute_event(
        self,
        kind: EventKind,
        event_id: str,
        dispute: dict[str, Any],
        occurred_at: datetime,
        raw_type: str,
    ) -> PaymentEvent:
        transactions = dispute.get("disputed_transactions") or [{}]
        amount = dispute.get("dispute_amount") or transactions[0].get("gross_amount") or {}
        status = str(dispute.get("status", ""))
        outcome = str((dispute.get("dispute_outcome") or {}).get("outcome_code", ""))
        due = dispute.get("seller_response_due_date")
        return PaymentEvent(
            provider=self.name,
            event_id=event_id,
            kind=kind,
            occurred_at=occurred_at,
            provider_payment_id=str(transactions[0].get("seller_transaction_id", "")),
            amount_minor=_minor(amount) if amount else 0,
            currency=str(amount.get("currency_code", "")),
            provider_dispute_id=str(dispute["dispute_id"]),
            dispute_status=DISPUTE_OUTCOME.get(outcome, status.lower()),
            dispute_reason=dispute.get("reason"),
            evidence_due_by=_when(due) if due else None,
            payment_method="paypal",
            raw_type=raw_type,
            extra={"status": status, "outcome_code": outcome} if outcome else {"status": status},
        )

    def _payment_event(
        self,
        kind: EventKind,
        *,
        event_id: str,
        capture: dict[str, Any],
        occurred_at: datetime,
        raw_type: str,
        reference: str | None,
        failure_message: str = "",
        extra: Mapping[str, str] | None = None,
    ) -> PaymentEvent:
        amount = capture["amount"]
        fee = (capture.get("seller_receivable_breakdown") or {}).get("paypal_fee")
        return PaymentEvent(
            provider=self.name,
            event_id=event_id,
            kind=kind,
            occurred_at=occurred_at,
            provider_payment_id=str(capture["id"]),
            amount_minor=_minor(amount),
            currency=amount["currency_code"],
            reference=reference,
            fee_minor=_minor(fee) if fee else None,
            failure_message=failure_message,
            payment_method="paypal",
            raw_type=raw_type,
            extra=dict(extra or {}),
        )

    # -- transport ---------------------------------------------------------------------------

    def _call(self, send: Callable[[], Any], *, fresh_token: bool = False) -> dict[str, Any]:
        """One SDK call; PayPal's refusals and network failures become ``GatewayError``.

        A 401 on an API call means PayPal no longer takes our token (revoked, or expired early):
        forget it and try once more with a new one. The SDK keeps its own copy of the token, so
        the client is built anew."""
        try:
            response = send()
        except ApiException as error:
            token_refused = error.response_code == 401 and not isinstance(
                error, OAuthProviderException
            )
            if token_refused and not fresh_token:
                with self._token_lock:
                    self._token = None
                    self._client = self._new_client()
                return self._call(send, fresh_token=True)
            raise _refusal(error.response_code, getattr(error.response, "text", "")) from error
        except GatewayError:
            raise
        except AuthValidationException as error:  # the token endpoint gave a dead token
            raise GatewayError(f"PayPal gave no usable token: {error}", retryable=True) from error
        except OSError as error:  # requests' errors are OSErrors too
            raise GatewayError(f"PayPal unreachable: {error}", retryable=True) from error
        return _json_object(response.text)

    def _post_json(
        self, path: str, payload: dict[str, Any], *, fresh_token: bool = False
    ) -> dict[str, Any]:
        token = self._call_token()
        request = urllib.request.Request(  # noqa: S310 -- base_url is our configuration, not input
            self._config.base_url.rstrip("/") + path,
            data=json.dumps(payload).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._config.timeout) as answer:  # noqa: S310
                return _json_object(answer.read().decode())
        except urllib.error.HTTPError as error:
            with error:
                text = error.read().decode(errors="replace")
            if error.code == 401 and not fresh_token:
                with self._token_lock:
                    self._token = None
                    self._client = self._new_client()
                return self._post_json(path, payload, fresh_token=True)
            raise _refusal(error.code, text) from error
        except OSError as error:
            raise GatewayError(f"PayPal unreachable: {error}", retryable=True) from error

    def _call_token(self) -> str:
        try:
            return str(self._access_token().access_token)
        except ApiException as error:
            raise _refusal(error.response_code, getattr(error.response, "text", "")) from error
        except OSError as error:
            raise GatewayError(f"PayPal unreachable: {error}", retryable=True) from error


def _refusal(status: int, text: str) -> GatewayError:
    """PayPal's error body in one line: ``NAME: message (ISSUE: description; ...)``."""
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if "error" in body and "name" not in body:  # the OAuth endpoint's RFC 6749 shape
        message = f"{body['error']}: {body.get('error_description', '')}".rstrip(": ")
    else:
        message = f"{body.get('name', f'HTTP {status}')}: {body.get('message', '')}".rstrip(": ")
        details = [
            f"{item.get('issue', '')}: {item.get('description', '')}".strip(": ")
            for item in body.get("details") or []
            if isinstance(item, dict)
        ]
        if details:
            message += f" ({'; '.join(details)})"
        if body.get("debug_id"):
            message += f" [debug_id {body['debug_id']}]"
    retryable = status in (408, 429) or status >= 500
    return GatewayError(f"PayPal {status}: {message}", retryable=retryable, status=status)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError as error:
        raise GatewayError(
            f"PayPal answered with no JSON: {text[:200]!r}", retryable=True
        ) from error
    if not isinstance(value, dict):
        raise GatewayError(f"PayPal answered with no JSON object: {text[:200]!r}", retryable=True)
    return value


def _paypal_value(amount_minor: int, currency: str) -> str:
    value = to_decimal_string(amount_minor, currency)
    if currency in WHOLE_UNITS_ONLY:
        whole, _, cents = value.partition(".")
        if cents.strip("0"):
            raise GatewayError(
                f"PayPal takes {currency} in whole units only, not {value}", retryable=False
            )
        return whole
    return value


def _captures(order: dict[str, Any]) -> list[dict[str, Any]]:
    units = order.get("purchase_units") or [{}]
    return list((units[0].get("payments") or {}).get("captures") or [])


def _minor(money: Mapping[str, Any]) -> int:
    return to_minor(str(money["value"]), str(money["currency_code"]))


def _when(text: Any) -> datetime:
    """PayPal's RFC 3339 times, aware and in UTC; now when PayPal gave none."""
    if not text:
        return datetime.now(UTC)
    return datetime.fromisoformat(str(text)).astimezone(UTC)


def _order_id(capture: dict[str, Any]) -> dict[str, str]:
    order_id = ((capture.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id")
    return {"order_id": str(order_id)} if order_id else {}


def _capture_id_of_refund(refund: dict[str, Any]) -> str:
    """A refund names its capture only through its ``up`` link: ``.../captures/{id}``."""
    for link in refund.get("links") or []:
        href = str(link.get("href", ""))
        if link.get("rel") == "up" and "/captures/" in href:
            return href.rstrip("/").rsplit("/", 1)[-1]
    raise WebhookRejected(f"refund {refund.get('id')} does not link to its capture")


def _is_paypal_locale(locale: str) -> bool:
    """PayPal takes five-character BCP 47 tags (``en-GB``); "auto" lets it choose."""
    return len(locale) == 5 and locale[2] == "-" and locale[:2].isalpha() and locale[3:].isalpha()
