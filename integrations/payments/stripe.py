"""Stripe through its official SDK: Checkout Sessions, refunds, webhooks, disputes, saved cards,
Connect accounts and payouts.

The API version is pinned (``STRIPE_API_VERSION``); the SDK's own default is newer. Where the SDK's
typed parameters (written for today's API) and the 2023-08-16 API differ, the request follows the
2023-08-16 API and says so beside it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import stripe

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

STRIPE_API_VERSION = "2023-08-16"
# Stripe takes PDF, JPEG and PNG as dispute evidence.
EVIDENCE_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png"})
_BRANDS = {
    "amex": "American Express",
    "diners": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
    "cartes_bancaires": "Cartes Bancaires",
}


@dataclass(frozen=True, slots=True)
class SavedMethod:
    customer_id: str
    payment_method_id: str
    label: str  # "Visa •••• 4242"


@dataclass(frozen=True, slots=True)
class Payout:
    id: str
    amount_minor: int
    currency: str
    arrival_date: datetime  # aware, UTC
    status: str  # paid, pending, in_transit, canceled, failed


Json = dict[str, Any]


@contextmanager
def _stripe_errors() -> Iterator[None]:
    """The SDK's errors as ``GatewayError``: network, 429 and 5xx may work later."""
    try:
        yield
    except stripe.APIConnectionError as error:
        raise GatewayError(
            f"Stripe could not be reached: {error.user_message or error}", retryable=True
        ) from error
    except stripe.StripeError as error:
        status = error.http_status
        retryable = status is not None and (status == 429 or status >= 500)
        message = error.user_message or str(error) or "Stripe refused the request."
        raise GatewayError(message, retryable=retryable, status=status) from error


def _plain(obj: Any) -> Json:
    return cast(Json, obj.to_dict())


def _utc(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _id_of(value: Any) -> str | None:
    """An expandable field: an id, an expanded object, or nothing."""
    if isinstance(value, dict):
        return cast(str, value["id"])
    return cast(str | None, value)


def _reference(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata") or {}
    return cast(str | None, metadata.get("reference") or obj.get("client_reference_id"))


class StripeGateway:
    """``PaymentGateway`` for Stripe, plus the Stripe-only calls the portal makes directly."""

    def __init__(self, config: GatewayConfig) -> None:
        self._config = config
        self._account = config.credentials.get("account_id") or None
        self._client = self._new_client(self._account)
        # Account creation and onboarding links are the platform's own calls.
        self._platform = self._client if self._account is None else self._new_client(None)

    def _new_client(self, account: str | None) -> stripe.StripeClient:
        base = self._config.base_url.rstrip("/")
        return stripe.StripeClient(
            api_key=self._config.credentials["secret_key"],
            stripe_account=account,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": base, "files": base, "connect": base},
            # Retries belong to our jobs, which back off and keep the outbox row.
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=self._config.timeout),
        )

    @property
    def name(self) -> str:
        return "stripe"

    # ------------------------------------------------------------------ checkout

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        intent_data: dict[str, Any] = {"metadata": {"reference": request.reference}}
        if request.save_payment_method:
            intent_data["setup_future_usage"] = "off_session"
        if self._config.application_fee_minor > 0 and self._account is not None:
            # Connect direct charge: the platform's cut, taken from the connected account.
            intent_data["application_fee_amount"] = self._config.application_fee_minor
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount_minor,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "payment_method_types": list(request.payment_methods),
            "client_reference_id": request.reference,
            "metadata": {"reference": request.reference},
            "payment_intent_data": intent_data,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "locale": request.locale,
        }
        if request.customer_email:
            params["customer_email"] = request.customer_email
        with _stripe_errors():
            # cast: the 2023-08-16 parameters (payment_method_types among them) are wider than
            # today's typed ones; the request follows the 2023-08-16 spec.
            session = self._client.v1.checkout.sessions.create(
                cast(Any, params), {"idempotency_key": request.idempotency_key}
            )
        if session.url is None:
            raise GatewayError("Stripe gave the Checkout Session no URL.", retryable=False)
        return Checkout(provider_id=session.id, url=session.url)

    def confirm_checkout(self, provider_id: str) -> PaymentEvent | None:
        with _stripe_errors():
            session = _plain(
                self._client.v1.checkout.sessions.retrieve(
                    provider_id,
                    {"expand": ["payment_intent.latest_charge.balance_transaction"]},
                )
            )
        if session.get("payment_status") != "paid" or not session.get("payment_intent"):
            return None
        intent = session["payment_intent"]
        return self._succeeded(
            intent,
            event_id=f"checkout:{session['id']}",
            occurred_at=_utc(intent["created"]) or datetime.now(UTC),
            raw_type="checkout.session",
            reference=_reference(intent) or _reference(session),
        )

    # ------------------------------------------------------------------ refunds

    def refund(self, request: RefundRequest) -> RefundResult:
        metadata = {"reason": request.reason} if request.reason else {}
        with _stripe_errors():
            refund = self._client.v1.refunds.create(
                {
                    "payment_intent": request.provider_payment_id,
                    "amount": request.amount_minor,
                    "metadata": metadata,
                },
                {"idempotency_key": request.idempotency_key},
            )
        return RefundResult(
            provider_refund_id=refund.id,
            status=str(refund.status or "pending"),
            amount_minor=refund.amount,
            currency=refund.currency.upper(),
        )

    # ------------------------------------------------------------------ webhooks

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[PaymentEvent]:
        signature = next(
            (value for key, value in headers.items() if key.lower() == "stripe-signature"), None
        )
        secret = self._config.credentials.get("webhook_secret", "")
        try:
            stripe.WebhookSignature.verify_header(
                body, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE
            )
            event = json.loads(body)
        except stripe.SignatureVerificationError as error:
            raise WebhookRejected(f"Stripe signature does not check out: {error}") from error
        except (ValueError, TypeError) as error:  # bad JSON, bad UTF-8, a missing header
            raise WebhookRejected(f"Not a Stripe event: {error}") from error
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            raise WebhookRejected("Not a Stripe event: no data.")
        try:
            return self._translate(event)
        except (KeyError, TypeError, AttributeError) as error:
            raise WebhookRejected(
                f"Stripe event {event.get('id')} is malformed: {error}"
            ) from error

    def _translate(self, event: Json) -> list[PaymentEvent]:
        kind, obj = event["type"], event["data"]["object"]
        occurred = _utc(event["created"]) or datetime.now(UTC)
        options = self._options_for(event)
        if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            if obj.get("mode") != "payment" or obj.get("payment_status") != "paid":
                return []
            intent = self._intent(obj["payment_intent"], options)
            return [
                self._succeeded(
                    intent,
                    event_id=event["id"],
                    occurred_at=occurred,
                    raw_type=kind,
                    reference=_reference(intent) or _reference(obj),
                )
            ]
        if kind == "payment_intent.succeeded":
            if not isinstance(obj.get("latest_charge"), dict):
                obj = self._intent(obj["id"], options)
            return [
                self._succeeded(
                    obj,
                    event_id=event["id"],
                    occurred_at=occurred,
                    raw_type=kind,
                    reference=_reference(obj),
                )
            ]
        if kind == "payment_intent.payment_failed":
            return [self._failed(event, obj, obj, occurred)]
        if kind == "checkout.session.async_payment_failed":
            intent_id = _id_of(obj.get("payment_intent"))
            intent = self._intent(intent_id, options) if intent_id else obj
            return [self._failed(event, intent, obj, occurred)]
        if kind == "charge.refunded":
            return self._refunds_of(event, obj, occurred, options)
        if kind in _DISPUTE_KINDS:
            return [self._dispute(event, obj, occurred, options)]
        return []

    def _failed(self, event: Json, intent: Json, obj: Json, occurred: datetime) -> PaymentEvent:
        """``intent`` is the PaymentIntent, or the session itself when it has none."""
        error = intent.get("last_payment_error") or {}
        return PaymentEvent(
            provider="stripe",
            event_id=event["id"],
            kind=EventKind.PAYMENT_FAILED,
            occurred_at=occurred,
            provider_payment_id=intent["id"],
            amount_minor=int(intent.get("amount") or intent.get("amount_total") or 0),
            currency=str(intent.get("currency") or "").upper(),
            reference=_reference(intent) or _reference(obj),
            failure_message=str(error.get("message") or "The payment failed."),
            payment_method=str((error.get("payment_method") or {}).get("type") or ""),
            raw_type=event["type"],
        )

    def _options_for(self, event: Json) -> Any:
        """Objects of a connected account's event are fetched as that account."""
        account = event.get("account") or self._account
        return {"stripe_account": account} if account else {}

    def _intent(self, intent_id: str, options: Any) -> Json:
        with _stripe_errors():
            return _plain(
                self._client.v1.payment_intents.retrieve(
                    intent_id, {"expand": ["latest_charge.balance_transaction"]}, options
                )
            )

    def _succeeded(
        self,
        intent: Json,
        *,
        event_id: str,
        occurred_at: datetime,
        raw_type: str,
        reference: str | None,
    ) -> PaymentEvent:
        charge = intent.get("latest_charge")
        fee: int | None = None
        method = ""
        if isinstance(charge, dict):
            transaction = charge.get("balance_transaction")
            if isinstance(transaction, dict):
                fee = int(transaction["fee"])
            method = str((charge.get("payment_method_details") or {}).get("type") or "")
        return PaymentEvent(
            provider="stripe",
            event_id=event_id,
            kind=EventKind.PAYMENT_SUCCEEDED,
            occurred_at=occurred_at,
            provider_payment_id=intent["id"],
            amount_minor=int(intent.get("amount_received") or intent["amount"]),
            currency=str(intent["currency"]).upper(),
            reference=reference,
            fee_minor=fee,
            payment_method=method,
            raw_type=raw_type,
        )

    def _refunds_of(
        self, event: Json, charge: Json, occurred: datetime, options: Any
    ) -> list[PaymentEvent]:
        """A Charge no longer embeds its refunds (API 2022-11-15): list them."""
        with _stripe_errors():
            listed = self._client.v1.refunds.list({"charge": charge["id"], "limit": 100}, options)
            refunds = [_plain(refund) for refund in listed.auto_paging_iter()]
        return [
            PaymentEvent(
                provider="stripe",
                event_id=f"{event['id']}:{refund['id']}",
                kind=EventKind.REFUND_SUCCEEDED,
                occurred_at=_utc(refund.get("created")) or occurred,
                provider_payment_id=_id_of(charge.get("payment_intent")) or charge["id"],
                amount_minor=int(refund["amount"]),
                currency=str(refund["currency"]).upper(),
                reference=_reference(charge),
                provider_refund_id=refund["id"],
                raw_type=event["type"],
            )
            for refund in refunds
            if refund.get("status") == "succeeded"
        ]

    def _dispute(
        self, event: Json, dispute: Json, occurred: datetime, options: Any
    ) -> PaymentEvent:
        intent_id = _id_of(dispute.get("payment_intent"))
        charge_id = _id_of(dispute.get("charge"))
        charge: Json = {}
        if charge_id:
            with _stripe_errors():
                charge = _plain(self._client.v1.charges.retrieve(charge_id, None, options))
            intent_id = intent_id or _id_of(charge.get("payment_intent"))
        details = dispute.get("evidence_details") or {}
        return PaymentEvent(
            provider="stripe",
            event_id=event["id"],
            kind=_DISPUTE_KINDS[event["type"]],
            occurred_at=occurred,
            provider_payment_id=intent_id or charge_id or dispute["id"],
            amount_minor=int(dispute["amount"]),
            currency=str(dispute["currency"]).upper(),
            reference=_reference(charge) if charge else None,
            provider_dispute_id=dispute["id"],
            dispute_status=dispute.get("status"),
            dispute_reason=dispute.get("reason"),
            evidence_due_by=_utc(details.get("due_by")),
            raw_type=event["type"],
        )

    # ------------------------------------------------------------------ Stripe-only

    def submit_dispute_evidence(
        self, dispute_id: str, text: str, file_name: str, content: bytes, mime: str
    ) -> str:
        """Upload the file, attach it and the text to the dispute, and submit; the new status."""
        if mime not in EVIDENCE_TYPES:
            raise GatewayError(
                "Stripe takes dispute evidence as PDF, JPEG or PNG.", retryable=False
            )
        upload = io.BytesIO(content)
        upload.name = file_name  # the SDK sends it as the part's filename
        with _stripe_errors():
            stored = self._client.v1.files.create(
                {"purpose": "dispute_evidence", "file": upload},
                {"idempotency_key": f"evidence-{dispute_id}-{hashlib.sha256(content).hexdigest()}"},
            )
            dispute = self._client.v1.disputes.update(
                dispute_id,
                {
                    "evidence": {"uncategorized_text": text, "uncategorized_file": stored.id},
                    "submit": True,
                },
            )
        return str(dispute.status)

    def create_setup_checkout(
        self,
        reference: str,
        customer_email: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
    ) -> Checkout:
        """A hosted page where the payer saves a card for later invoices (mode=setup)."""
        with _stripe_errors():
            customer = self._client.v1.customers.create(
                {"email": customer_email, "metadata": {"reference": reference}},
                {"idempotency_key": f"{idempotency_key}-customer"},
            )
            # cast: payment_method_types is a 2023-08-16 parameter that today's typed
            # parameters no longer list.
            session = self._client.v1.checkout.sessions.create(
                cast(
                    Any,
                    {
                        "mode": "setup",  # 2023-08-16 needs no currency for setup with card
                        "customer": customer.id,
                        "payment_method_types": ["card"],
                        "client_reference_id": reference,
                        "metadata": {"reference": reference},
                        "success_url": success_url,
                        "cancel_url": cancel_url,
                    },
                ),
                {"idempotency_key": idempotency_key},
            )
        if session.url is None:
            raise GatewayError("Stripe gave the Checkout Session no URL.", retryable=False)
        return Checkout(provider_id=session.id, url=session.url)

    def saved_method(self, setup_session_id: str) -> SavedMethod | None:
        """The card saved through a setup session, or ``None`` while it is not complete."""
        with _stripe_errors():
            session = _plain(
                self._client.v1.checkout.sessions.retrieve(
                    setup_session_id, {"expand": ["setup_intent.payment_method"]}
                )
            )
        intent = session.get("setup_intent")
        if session.get("status") != "complete" or not isinstance(intent, dict):
            return None
        method = intent.get("payment_method")
        if not isinstance(method, dict):
            return None
        return SavedMethod(
            customer_id=_id_of(session.get("customer")) or _id_of(intent.get("customer")) or "",
            payment_method_id=method["id"],
            label=_label(method),
        )

    def charge_saved_method(
        self,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        reference: str,
        idempotency_key: str,
    ) -> PaymentEvent:
        """Charge a saved card without the payer present; a decline is ``GatewayError``."""
        params: dict[str, Any] = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "confirm": True,
            "off_session": True,
            # From 2023-08-16 automatic payment methods are on by default; a redirect cannot
            # happen without the payer, so say so rather than needing a return_url.
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "metadata": {"reference": reference},
            "expand": ["latest_charge.balance_transaction"],
        }
        if self._config.application_fee_minor > 0 and self._account is not None:
            params["application_fee_amount"] = self._config.application_fee_minor
        with _stripe_errors():
            intent = _plain(
                self._client.v1.payment_intents.create(
                    cast(Any, params), {"idempotency_key": idempotency_key}
                )
            )
        if intent.get("status") != "succeeded":
            error = intent.get("last_payment_error") or {}
            raise GatewayError(
                str(error.get("message") or f"The payment is {intent.get('status')}."),
                retryable=False,
            )
        return self._succeeded(
            intent,
            event_id=f"payment_intent:{intent['id']}",
            occurred_at=_utc(intent["created"]) or datetime.now(UTC),
            raw_type="payment_intent",
            reference=reference,
        )

    def create_connected_account(self, email: str) -> str:
        """A Standard connected account for a business that takes payments in its own name."""
        with _stripe_errors():
            account = self._platform.v1.accounts.create({"type": "standard", "email": email})
        return account.id

    def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        with _stripe_errors():
            link = self._platform.v1.account_links.create(
                {
                    "account": account_id,
                    "refresh_url": refresh_url,
                    "return_url": return_url,
                    "type": "account_onboarding",
                }
            )
        return link.url

    def payouts(self, limit: int = 20) -> list[Payout]:
        with _stripe_errors():
            listed = self._client.v1.payouts.list({"limit": limit})
        return [
            Payout(
                id=payout.id,
                amount_minor=payout.amount,
                currency=payout.currency.upper(),
                arrival_date=datetime.fromtimestamp(payout.arrival_date, UTC),
                status=payout.status,
            )
            for payout in listed.data
        ]


_DISPUTE_KINDS = {
    "charge.dispute.created": EventKind.DISPUTE_OPENED,
    "charge.dispute.updated": EventKind.DISPUTE_UPDATED,
    "charge.dispute.closed": EventKind.DISPUTE_CLOSED,
}


def _label(method: Mapping[str, Any]) -> str:
    card = method.get("card") or {}
    if card:
        brand = _BRANDS.get(str(card.get("brand")), str(card.get("brand") or "Card").title())
        return f"{brand} •••• {card.get('last4')}"
    kind = str(method.get("type") or "payment method")
    details = method.get(kind) or {}
    last4 = details.get("last4") if isinstance(details, dict) else None
    return f"{kind.replace('_', ' ').title()} •••• {last4}" if last4 else kind
