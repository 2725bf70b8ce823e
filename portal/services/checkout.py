"""A client paying an invoice from the portal through a provider's hosted page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from integrations.payments.base import CheckoutRequest, GatewayError
from portal.billing.errors import BillingError
from portal.billing.money import Money, require_minor
from portal.billing.status import OPEN_STATUSES
from portal.extensions import db
from portal.models import Checkout, Document, DocumentKind, PaymentAccount
from portal.services import balances, experiments, payment_accounts, provider_payments
from portal.services.client_portal import Opened
from portal.services.errors import InvalidInput, NotFound
from portal.services.experiments import Assignment


@dataclass(frozen=True, slots=True)
class PayOption:
    provider: str
    label: str
    methods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PayOptions:
    options: tuple[PayOption, ...]
    balance: Money
    allow_partial: bool
    minimum_partial: Money


def could_pay(doc: Document) -> bool:
    """Whether anything is left to pay on ``doc`` (no database work)."""
    return (
        doc.kind is DocumentKind.INVOICE and doc.status in OPEN_STATUSES and doc.balance_minor > 0
    )


def pay_options(
    opened: Opened,
    doc: Document,
    assignment: Assignment | None,
    offered: Sequence[payment_accounts.Offered] | None = None,
) -> PayOptions | None:
    """How this invoice can be paid online, or None when it cannot (nothing due, no provider)."""
    if not could_pay(doc):
        return None
    if offered is None:
        offered = payment_accounts.offered(opened.business)
    if not offered:
        return None
    accounts = list(offered)
    settings = assignment.settings if assignment else None
    if settings and settings.method_order:
        order = {p: i for i, p in enumerate(settings.method_order)}
        accounts.sort(key=lambda a: order.get(a.provider, len(order)))
    allow_partial = any(a.allow_partial for a in accounts)
    if settings and settings.offer_partial is not None:
        allow_partial = allow_partial and settings.offer_partial
    minimum = min((a.minimum_partial_minor for a in accounts if a.allow_partial), default=0)
    return PayOptions(
        options=tuple(
            PayOption(
                a.provider,
                payment_accounts.label(a.provider),
                tuple(m for m in a.payment_methods.split(",") if m),
            )
            for a in accounts
        ),
        balance=Money(doc.balance_minor, doc.currency),
        allow_partial=allow_partial,
        minimum_partial=Money(minimum, doc.currency),
    )


def _amount(raw: str | None, doc: Document, account: PaymentAccount, partial_offered: bool) -> int:
    if raw is None or not raw.strip():
        return doc.balance_minor
    try:
        value = require_minor(Decimal(raw.strip().replace(",", "")), "amount", doc.currency)
    except (InvalidOperation, BillingError, TypeError) as exc:
        raise InvalidInput({"amount": f"Enter an amount in {doc.currency}, like 120.00."}) from exc
    if value == doc.balance_minor:
        return value
    if not (account.allow_partial and partial_offered):
        raise InvalidInput({"amount": "This invoice is paid in full."})
    if value <= 0:
        raise InvalidInput({"amount": "Enter an amount greater than 0."})
    if value > doc.balance_minor:
        due = Money(doc.balance_minor, doc.currency)
        raise InvalidInput({"amount": f"That is more than the {due} left to pay."})
    if value < account.minimum_partial_minor:
        least = Money(account.minimum_partial_minor, doc.currency)
        raise InvalidInput({"amount": f"The smallest part payment is {least}."})
    return value


def start(
    opened: Opened,
    doc: Document,
    provider: str,
    amount: str | None,
    *,
    assignment: Assignment | None,
    return_url: Callable[[str], str],
    cancel_url: Callable[[str], str],
) -> str:
    """Open a checkout at the provider; returns the URL to send the payer to."""
    balances.refresh(doc)
    options = pay_options(opened, doc, assignment)
    if options is None:
        raise InvalidInput({"payment": "This invoice cannot be paid online."})
    account = next(
        (a for a in payment_accounts.enabled_accounts(opened.business) if a.provider == provider),
        None,
    )
    if account is None:
        raise InvalidInput({"payment": "Choose one of the offered ways to pay."})
    minor = _amount(amount, doc, account, options.allow_partial)
    checkout = Checkout(
        business_id=opened.business.id,
        account_id=account.id,
        document_id=doc.id,
        client_id=opened.client.id,
        link_id=opened.link.id,
        provider=provider,
        amount_minor=minor,
        currency=doc.currency,
        variant_id=assignment.variant.id if assignment else None,
    )
    db.session.add(checkout)
    db.session.commit()
    if assignment is not None:
        experiments.record(assignment, opened.link, "checkout_started", minor, doc.currency)
    fee = payment_accounts.application_fee(account, minor)
    request = CheckoutRequest(
        reference=checkout.public_id,
        amount_minor=minor,
        currency=doc.currency,
        description=f"Invoice {doc.number} from {opened.business.legal_name}"[:200],
        success_url=return_url(checkout.public_id),
        cancel_url=cancel_url(checkout.public_id),
        idempotency_key=f"checkout-{checkout.public_id}",
        customer_email=opened.client.email or None,
        payment_methods=tuple(m for m in account.payment_methods.split(",") if m),
    )
    label = payment_accounts.label(provider)
    try:
        hosted = payment_accounts.gateway_for(account, fee).create_checkout(request)
    except GatewayError as error:
        checkout.status, checkout.failure_message = "failed", str(error)[:500]
        db.session.commit()
        raise InvalidInput(
            {"payment": f"{label} is not answering just now; please try again in a few minutes."}
        ) from error
    checkout.provider_checkout_id = hosted.provider_id
    db.session.commit()
    return hosted.url


def get_checkout(opened: Opened, public_id: str) -> Checkout:
    checkout = db.session.scalar(
        select(Checkout).where(
            Checkout.public_id == public_id,
            Checkout.business_id == opened.business.id,
            Checkout.client_id == opened.client.id,
        )
    )
    if checkout is None:
        raise NotFound("No such payment.")
    return checkout


def finish(opened: Opened, public_id: str) -> Checkout:
    """The payer is back: ask the provider (PayPal captures here) and record what is paid.
    The webhook may have done it already; either way the payment is recorded once."""
    checkout = get_checkout(opened, public_id)
    if checkout.status == "open" and checkout.provider_checkout_id:
        account = db.session.get_one(PaymentAccount, checkout.account_id)
        try:
            event = payment_accounts.gateway_for(account).confirm_checkout(
                checkout.provider_checkout_id
            )
        except GatewayError:
            event = None  # the webhook will tell; the receipt page waits for it
        if event is not None:
            provider_payments.record_event(account, event)
            db.session.refresh(checkout)
    return checkout


def cancel(opened: Opened, public_id: str) -> Checkout:
    checkout = get_checkout(opened, public_id)
    if checkout.status == "open":
        checkout.status = "cancelled"
        db.session.commit()
    return checkout
