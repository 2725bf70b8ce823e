"""What a payment provider tells us, applied once: payments, failures, refunds and disputes.

Every event is stored by the provider's event id before it is applied, in the same transaction,
so a repeated webhook changes nothing. One payment is known by the provider's payment id, so the
two events Stripe sends for one payment (and our own check when the payer comes back) record it
once. An event that needs another first (a refund or dispute before its payment) is stored
unprocessed and applied when that payment arrives.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from integrations.payments.base import (
    EventKind,
    GatewayError,
    PaymentEvent,
    RefundRequest,
    WebhookRejected,
)
from portal.billing.money import Money
from portal.billing.status import OPEN_STATUSES
from portal.extensions import db
from portal.models import (
    Business,
    Checkout,
    Client,
    Dispute,
    Document,
    Payment,
    PaymentAccount,
    ProviderEvent,
    Refund,
    Role,
)
from portal.models.base import utcnow
from portal.services import audit, balances, notifications, payment_accounts, payments
from portal.services.actors import Actor, system_actor
from portal.services.errors import InvalidInput, NotFound, ServiceError

METHOD_FOR = {
    "card": "card",
    "paypal": "paypal",
    "sepa_debit": "direct_debit",
    "us_bank_account": "direct_debit",
    "bacs_debit": "direct_debit",
}


class WebhookInvalid(ServiceError):
    status = 400


class ProviderUnavailable(ServiceError):
    """The provider could not be asked (verifying a PayPal webhook); it will send it again."""

    status = 503


# --------------------------------------------------------------------------- receiving


def receive_webhook(provider: str, account_id: str, headers: Mapping[str, str], body: bytes) -> int:
    """Verify and apply a webhook; returns how many events were new."""
    account = db.session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.public_id == account_id, PaymentAccount.provider == provider
        )
    )
    if account is None or account.provider not in payment_accounts.available():
        raise NotFound("No such payment account.")
    try:
        gateway = payment_accounts.gateway_for(account)
    except InvalidInput as error:
        raise NotFound("This payment account is not set up.") from error
    try:
        events = gateway.parse_webhook(headers, body)
    except WebhookRejected as error:
        raise WebhookInvalid(str(error) or "The webhook did not verify.") from error
    except GatewayError as error:
        raise ProviderUnavailable(str(error)) from error
    return sum(1 for event in events if record_event(account, event))


def receive_connect_webhook(headers: Mapping[str, str], body: bytes) -> int:
    """A Stripe Connect webhook: one endpoint for every connected account, signed with the
    platform's secret; the event names the account it happened on."""
    gateway = payment_accounts.platform_gateway()
    try:
        events = gateway.parse_webhook(headers, body)
    except WebhookRejected as error:
        raise WebhookInvalid(str(error) or "The webhook did not verify.") from error
    except GatewayError as error:
        raise ProviderUnavailable(str(error)) from error
    connected = json.loads(body).get("account")
    account = db.session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.provider == "stripe",
            PaymentAccount.connected_account_id == str(connected or ""),
            PaymentAccount.connected_account_id != "",
        )
    )
    if account is None:
        return 0  # an account that left, or the platform's own: nothing of ours
    return sum(1 for event in events if record_event(account, event))


def record_event(account: PaymentAccount, event: PaymentEvent) -> bool:
    """Store and apply one event; False when it was seen before.

    The webhook and the payer's return can bring the same payment at the same moment: the
    unique event id and payment id let one of them win and the other find it done. SQLite
    refuses a second writer outright ("database is locked"); that attempt starts over."""
    for attempt in range(1, LOCKED_RETRIES + 1):
        try:
            return _record_once(account, event)
        except IntegrityError:
            db.session.rollback()
            return False
        except OperationalError as error:
            db.session.rollback()
            if "locked" not in str(error) or attempt == LOCKED_RETRIES:
                raise
            time.sleep(0.02 * attempt)  # back off before trying again; not a synchronisation
    return False


LOCKED_RETRIES = 8


def _record_once(account: PaymentAccount, event: PaymentEvent) -> bool:
    db.session.commit()  # start clean: what follows is one transaction
    business = db.session.get_one(Business, account.business_id)
    seen = db.session.scalar(
        select(ProviderEvent.id).where(
            ProviderEvent.provider == event.provider, ProviderEvent.event_id == event.event_id
        )
    )
    if seen is not None:
        return False
    row = ProviderEvent(
        business_id=business.id,
        provider=event.provider,
        event_id=event.event_id,
        kind=event.kind.value,
        raw_type=event.raw_type,
        provider_payment_id=event.provider_payment_id,
        body=_dumps(event),
        received_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    told = _apply(business, account, row, event)
    db.session.commit()
    notifications.dispatch(told)
    if event.kind is EventKind.PAYMENT_SUCCEEDED:
        _apply_waiting(business, account, event.provider, event.provider_payment_id)
    return True


def _apply_waiting(business: Business, account: PaymentAccount, provider: str, pid: str) -> None:
    waiting = db.session.scalars(
        select(ProviderEvent)
        .where(
            ProviderEvent.provider == provider,
            ProviderEvent.provider_payment_id == pid,
            ProviderEvent.processed_at.is_(None),
        )
        .order_by(ProviderEvent.id)
    ).all()
    for row in waiting:
        told = _apply(business, account, row, _loads(row.body))
        db.session.commit()
        notifications.dispatch(told)


def _apply(
    business: Business, account: PaymentAccount, row: ProviderEvent, event: PaymentEvent
) -> list[Any]:
    """Apply the event in the caller's transaction; mark the row processed unless it waits."""
    told: list[Any] = []
    if event.kind is EventKind.PAYMENT_SUCCEEDED:
        told = _payment_succeeded(business, event, row)
    elif event.kind is EventKind.PAYMENT_FAILED:
        told = _payment_failed(business, event)
    else:
        payment = _payment(event.provider, event.provider_payment_id)
        if payment is None:
            row.note = "Waiting for the payment this event is about."
            return []
        if event.kind is EventKind.REFUND_SUCCEEDED:
            _refunded(business, payment, event)
        elif event.kind is EventKind.REFUND_FAILED:
            row.note = "The provider reports a failed refund; check it in its dashboard."
        else:
            told = _dispute(business, payment, event)
    row.processed_at = utcnow()
    return told


# --------------------------------------------------------------------------- each kind


def _payment(provider: str, provider_payment_id: str) -> Payment | None:
    return db.session.scalar(
        select(Payment).where(
            Payment.provider == provider, Payment.provider_payment_id == provider_payment_id
        )
    )


def _checkout(business: Business, event: PaymentEvent) -> Checkout | None:
    if not event.reference:
        return None
    return db.session.scalar(
        select(Checkout).where(
            Checkout.business_id == business.id, Checkout.public_id == event.reference
        )
    )


def _payment_succeeded(business: Business, event: PaymentEvent, row: ProviderEvent) -> list[Any]:
    checkout = _checkout(business, event)
    existing = _payment(event.provider, event.provider_payment_id)
    if existing is not None:
        if event.fee_minor is not None and existing.fee_minor == 0:
            existing.fee_minor = event.fee_minor
        if checkout is not None and checkout.payment_id is None:
            checkout.payment_id, checkout.status = existing.id, "paid"
        return []
    if checkout is None:
        row.note = "A payment no checkout of ours asked for; nothing recorded."
        return []
    client = db.session.get_one(Client, checkout.client_id)
    currency = event.currency.upper()
    allocations: tuple[tuple[str, Any], ...] = ()
    doc = checkout.document
    if doc is not None and doc.currency == currency and doc.status in OPEN_STATUSES:
        balances.refresh(doc)
        share = min(event.amount_minor, max(doc.balance_minor, 0))
        if share:
            allocations = ((doc.public_id, Money(share, currency).to_decimal()),)
    label = payment_accounts.label(event.provider)
    data = payments.PaymentData(
        client_id=client.public_id,
        amount=Money(event.amount_minor, currency).to_decimal(),
        currency=currency,
        received_on=event.occurred_at.date(),
        method=METHOD_FOR.get(event.payment_method or "card", "card")
        if event.provider != "paypal"
        else "paypal",
        reference=f"{label} {event.provider_payment_id}"[:120],
        allocations=allocations,
        provider=event.provider,
        provider_payment_id=event.provider_payment_id,
        fee_minor=event.fee_minor or 0,
    )
    checkout.status = "paid"
    row.processed_at = utcnow()
    # record_payment commits: the event row, the checkout and the payment land together.
    payment = payments.record_payment(system_actor(business), data)
    checkout.payment_id = payment.id
    from portal.services import experiments  # experiments read checkouts; no cycle at import

    experiments.record_paid(checkout, event.amount_minor, currency)
    return []


def _payment_failed(business: Business, event: PaymentEvent) -> list[Any]:
    checkout = _checkout(business, event)
    if checkout is None or checkout.status == "paid":
        return []
    checkout.status = "failed"
    checkout.failure_message = event.failure_message[:500]
    doc = checkout.document
    number = doc.number if doc is not None else ""
    amount = str(Money(event.amount_minor or checkout.amount_minor, checkout.currency))
    return notifications.notify(
        business,
        "payment.failed",
        {
            "id": f"{checkout.public_id}-{event.event_id}",
            "title": f"Payment for invoice {number} failed",
            "text": event.failure_message or "The client's payment did not go through.",
            "url": f"/app/invoices/{doc.public_id}" if doc is not None else None,
            "facts": {"Amount": amount, "Provider": payment_accounts.label(event.provider)},
        },
    )


def _refunded(business: Business, payment: Payment, event: PaymentEvent) -> None:
    refund_id = event.provider_refund_id or event.event_id
    known = db.session.scalar(select(Refund.id).where(Refund.provider_refund_id == refund_id))
    if known is not None:
        return
    left = payment.amount_minor - sum(r.amount_minor for r in payment.refunds)
    minor = min(event.amount_minor, left)
    if minor <= 0:
        return
    label = payment_accounts.label(event.provider)
    payments.apply_refund(
        business,
        None,
        payment,
        minor,
        event.occurred_at.date(),
        f"{label} refund {refund_id}",
        provider_refund_id=refund_id,
    )


def _dispute(business: Business, payment: Payment, event: PaymentEvent) -> list[Any]:
    dispute_id = event.provider_dispute_id or event.event_id
    dispute = db.session.scalar(
        select(Dispute).where(
            Dispute.provider == event.provider, Dispute.provider_dispute_id == dispute_id
        )
    )
    opened = dispute is None
    if dispute is None:
        dispute = Dispute(
            business_id=business.id,
            payment_id=payment.id,
            provider=event.provider,
            provider_dispute_id=dispute_id,
            amount_minor=event.amount_minor,
            currency=event.currency.upper(),
        )
        db.session.add(dispute)
    was_closed = dispute.closed
    if was_closed and event.kind is not EventKind.DISPUTE_CLOSED:
        return []  # an older event arriving late: the dispute is decided
    dispute.status = event.dispute_status or dispute.status
    dispute.reason = (event.dispute_reason or dispute.reason or "")[:80]
    if event.evidence_due_by is not None:
        dispute.evidence_due_by = event.evidence_due_by
    if event.kind is EventKind.DISPUTE_CLOSED:
        dispute.closed = True
    db.session.flush()
    audit.record(
        business=business,
        actor=None,
        action=f"payment.{event.kind.value.replace('.', '_')}",
        entity_type="payment",
        entity_id=payment.public_id,
        after={"dispute": dispute_id, "status": dispute.status, "reason": dispute.reason},
    )
    if dispute.closed and not was_closed and dispute.status.lower() in LOST:
        # The bank took the money back: the invoice is open again by that much.
        left = payment.amount_minor - sum(r.amount_minor for r in payment.refunds)
        minor = min(dispute.amount_minor, left)
        if minor > 0:
            payments.apply_refund(
                business,
                None,
                payment,
                minor,
                event.occurred_at.date(),
                "Dispute lost",
                provider_refund_id=f"dispute:{event.provider}:{dispute_id}",
            )
    if not opened:
        return []
    amount = str(Money(dispute.amount_minor, dispute.currency))
    doc = _paid_document(payment)
    return notifications.notify(
        business,
        "payment.disputed",
        {
            "id": dispute.public_id,
            "title": "A client disputed a card payment",
            "text": f"{amount} is disputed ({dispute.reason or 'no reason given'}).",
            "url": f"/app/invoices/{doc.public_id}" if doc is not None else None,
            "facts": {"Amount": amount, "Respond by": _due(dispute.evidence_due_by)},
        },
    )


LOST = {"lost", "charge_refunded", "resolved_buyer_favour", "accepted"}


def _due(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d") if when else "—"


def _paid_document(payment: Payment) -> Document | None:
    for allocation in payment.allocations:
        return allocation.document
    return None


# --------------------------------------------------------------------------- refunds


def refund_at_provider(
    payment: Payment, minor: int, sequence: int, request_key: str | None = None
) -> str:
    """Ask the payment's provider to pay ``minor`` back; returns the provider's refund id.

    The idempotency key is the request's own key when the caller has one (a form sent twice is
    one refund), else it names the payment, the refund's place and its amount: a retry after a
    lost answer gets the same refund, never a second one."""
    account = db.session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.business_id == payment.business_id,
            PaymentAccount.provider == payment.provider,
        )
    )
    if account is None or payment.provider_payment_id is None:
        raise InvalidInput({"amount": "This payment's provider is no longer connected."})
    label = payment_accounts.label(account.provider)
    request = RefundRequest(
        provider_payment_id=payment.provider_payment_id,
        amount_minor=minor,
        currency=payment.currency,
        idempotency_key=f"refund-{payment.public_id}-{request_key}"
        if request_key
        else f"refund-{payment.public_id}-{sequence + 1}-{minor}",
    )
    try:
        result = payment_accounts.gateway_for(account).refund(request)
    except GatewayError as error:
        raise InvalidInput({"amount": f"{label} did not refund: {error}"}) from error
    if result.status == "failed":
        raise InvalidInput({"amount": f"{label} could not refund this payment."})
    return result.provider_refund_id


# --------------------------------------------------------------------------- storage


def _dumps(event: PaymentEvent) -> str:
    data = asdict(event)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    data["kind"] = event.kind.value
    data["extra"] = dict(event.extra)
    return json.dumps(data, sort_keys=True)


def _loads(body: str) -> PaymentEvent:
    data = json.loads(body)
    names = {f.name for f in fields(PaymentEvent)}
    data = {k: v for k, v in data.items() if k in names}
    data["kind"] = EventKind(data["kind"])
    for key in ("occurred_at", "evidence_due_by"):
        if data.get(key):
            data[key] = datetime.fromisoformat(data[key])
    return PaymentEvent(**data)


# --------------------------------------------------------------------------- the business's view


@dataclass(frozen=True, slots=True)
class OnlinePayment:
    payment: Payment
    refunds: list[Refund]
    disputes: list[Dispute]
    refundable_minor: int

    @property
    def net_minor(self) -> int:
        return self.payment.amount_minor - self.payment.fee_minor

    @property
    def refundable(self) -> Decimal:
        return Money(self.refundable_minor, self.payment.currency).to_decimal()


def for_invoice(actor: Actor, doc: Document) -> list[OnlinePayment]:
    """Payments clients made online for this invoice, with their refunds and disputes."""
    rows = db.session.scalars(
        select(Payment)
        .join(Checkout, Checkout.payment_id == Payment.id)
        .where(Checkout.document_id == doc.id, Payment.business_id == actor.business.id)
        .order_by(Payment.received_on, Payment.id)
    ).unique()
    out = []
    for payment in rows:
        refunds = sorted(payment.refunds, key=lambda r: r.id)
        disputes = list(
            db.session.scalars(
                select(Dispute).where(Dispute.payment_id == payment.id).order_by(Dispute.id)
            )
        )
        left = payment.amount_minor - sum(r.amount_minor for r in refunds)
        out.append(OnlinePayment(payment, refunds, disputes, left))
    return out


def get_dispute(actor: Actor, public_id: str) -> Dispute:
    dispute = db.session.scalar(
        select(Dispute).where(
            Dispute.public_id == public_id, Dispute.business_id == actor.business.id
        )
    )
    if dispute is None:
        raise NotFound("No such dispute.")
    return dispute


EVIDENCE_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
EVIDENCE_MAX_BYTES = 5 * 1024 * 1024


def submit_evidence(
    actor: Actor, public_id: str, text: str, file_name: str, content: bytes, mime: str
) -> Dispute:
    """Send the business's side of a dispute to the provider (Stripe takes it through its API)."""
    actor.require(Role.ACCOUNTANT)
    dispute = get_dispute(actor, public_id)
    errors: dict[str, str] = {}
    text = text.strip()
    if dispute.closed:
        errors["evidence"] = "This dispute is decided; no more evidence can be sent."
    elif dispute.evidence_submitted_at is not None:
        errors["evidence"] = "Evidence was already sent for this dispute."
    if not text:
        errors["text"] = "Say in a few sentences what was delivered and when."
    elif len(text) > 20_000:
        errors["text"] = "Keep the explanation under 20,000 characters."
    if not content:
        errors["file"] = "Attach the signed quote, the delivery note or the correspondence."
    elif mime not in EVIDENCE_TYPES:
        errors["file"] = "Attach a PDF, JPEG or PNG file."
    elif len(content) > EVIDENCE_MAX_BYTES:
        errors["file"] = "The file is larger than 5 MB."
    if errors:
        raise InvalidInput(errors)
    account = db.session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.business_id == actor.business.id,
            PaymentAccount.provider == dispute.provider,
        )
    )
    if account is None:
        raise InvalidInput({"evidence": "This payment's provider is no longer connected."})
    gateway = payment_accounts.gateway_for(account)
    submit = getattr(gateway, "submit_dispute_evidence", None)
    label = payment_accounts.label(dispute.provider)
    if submit is None:
        raise InvalidInput({"evidence": f"Answer {label} disputes in your {label} dashboard."})
    safe_name = "".join(c for c in file_name if c.isalnum() or c in "._- ")[:100] or "evidence"
    try:
        status = submit(dispute.provider_dispute_id, text, safe_name, content, mime)
    except GatewayError as error:
        raise InvalidInput({"evidence": f"{label} did not take the evidence: {error}"}) from error
    dispute.status = str(status or dispute.status)
    dispute.evidence_submitted_at = utcnow()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="payment.dispute_evidence_sent",
        entity_type="payment",
        entity_id=dispute.payment.public_id,
        after={"dispute": dispute.provider_dispute_id, "file": safe_name},
    )
    db.session.commit()
    return dispute
