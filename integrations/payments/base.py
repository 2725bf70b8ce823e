"""What every payment gateway takes and returns, and the ways it fails.

The portal never talks to a provider's SDK: it builds a ``GatewayConfig`` from a business's
payment account, asks ``registry.gateway(config)`` for the adapter, and calls the methods below.
Amounts are integer minor units of an ISO 4217 currency (upper case), never floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """How to reach one provider for one business.

    ``base_url`` is the provider's API root (tests point it at a fake on 127.0.0.1).
    ``credentials`` by provider:
      stripe: ``secret_key``, ``webhook_secret``, optional ``account_id`` (a connected account)
      paypal: ``client_id``, ``client_secret``, ``webhook_id``
      square: ``access_token``, ``location_id``, ``webhook_signature_key``, ``notification_url``
    """

    provider: str
    base_url: str
    credentials: Mapping[str, str]
    timeout: float = 20.0
    # The platform's cut on a connected account (Stripe Connect), in minor units per checkout.
    application_fee_minor: int = 0


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """Ask the provider for a hosted page where the payer pays ``amount_minor``."""

    reference: str  # our checkout's public id; comes back in events (metadata / custom_id)
    amount_minor: int
    currency: str
    description: str  # "Invoice INV-2026-0001 from Acme Ltd"
    success_url: str
    cancel_url: str
    idempotency_key: str
    customer_email: str | None = None
    payment_methods: tuple[str, ...] = ("card",)  # provider's own names: card, sepa_debit, ...
    save_payment_method: bool = False  # Stripe: keep the method for charging recurring invoices
    locale: str = "auto"


@dataclass(frozen=True, slots=True)
class Checkout:
    provider_id: str  # Checkout Session id, PayPal order id, Square payment link id
    url: str  # where the payer goes


@dataclass(frozen=True, slots=True)
class RefundRequest:
    provider_payment_id: str
    amount_minor: int
    currency: str
    idempotency_key: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider_refund_id: str
    status: str  # pending, succeeded, failed
    amount_minor: int
    currency: str


class EventKind(StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_UPDATED = "dispute.updated"
    DISPUTE_CLOSED = "dispute.closed"


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """One thing that happened at the provider, in our words.

    ``event_id`` is unique per provider: storing it makes a repeated webhook change nothing.
    ``provider_payment_id`` names the money movement all events of one payment share
    (Stripe PaymentIntent id, PayPal capture id, Square payment id), so that a payment seen twice
    (``checkout.session.completed`` and ``payment_intent.succeeded``) is recorded once.
    """

    provider: str
    event_id: str
    kind: EventKind
    occurred_at: datetime  # aware, UTC
    provider_payment_id: str
    amount_minor: int
    currency: str
    reference: str | None = None  # ``CheckoutRequest.reference`` when the provider echoes it
    fee_minor: int | None = None  # the provider's fee, when known
    provider_refund_id: str | None = None
    provider_dispute_id: str | None = None
    dispute_status: str | None = None  # the provider's word: needs_response, won, lost, ...
    dispute_reason: str | None = None
    evidence_due_by: datetime | None = None
    failure_message: str = ""
    payment_method: str = ""  # card, sepa_debit, paypal, ...
    raw_type: str = ""  # the provider's event type, for the log
    extra: Mapping[str, str] = field(default_factory=dict)


class GatewayError(Exception):
    """The provider refused or could not be reached. ``retryable``: the same call may work later
    (network, 429, 5xx); otherwise it fails the same way until someone fixes the cause."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class WebhookRejected(Exception):
    """A webhook whose signature, timestamp or body does not check out; answer it with 400."""


class NotSupported(GatewayError):
    """The provider has no such capability (e.g. dispute evidence through PayPal here)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class PaymentGateway(Protocol):
    @property
    def name(self) -> str:
        """stripe, paypal, square"""
        ...

    def create_checkout(self, request: CheckoutRequest) -> Checkout:
        """A hosted payment page for the amount; raise ``GatewayError``."""
        ...

    def confirm_checkout(self, provider_id: str) -> PaymentEvent | None:
        """Called when the payer comes back: finish what the provider needs finishing (PayPal
        captures the approved order) and return the succeeded payment, or ``None`` while it is
        not paid. Idempotent: a second call returns the same payment, captures nothing again."""
        ...

    def refund(self, request: RefundRequest) -> RefundResult:
        """Full or partial refund, idempotent by ``request.idempotency_key``."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[PaymentEvent]:
        """Verify the webhook (raise ``WebhookRejected``) and translate it; event types we do not
        use give an empty list."""
        ...
