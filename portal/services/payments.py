"""Payments recorded by hand, their allocation to invoices, client credit and refunds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from portal.billing.errors import BillingError
from portal.billing.money import Money, require_minor
from portal.billing.status import OPEN_STATUSES
from portal.extensions import db
from portal.models import (
    Business,
    Client,
    CreditApplication,
    Document,
    DocumentKind,
    Payment,
    PaymentAllocation,
    Refund,
    Role,
    User,
)
from portal.services import audit, balances, documents, notifications
from portal.services.actors import Actor
from portal.services.errors import InvalidInput, NotFound

# A refund form's own key (``secrets.token_urlsafe``), as it comes back from the browser.
_REQUEST_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")

METHODS = {
    "bank_transfer": "Bank transfer",
    "card": "Card",
    "cash": "Cash",
    "cheque": "Cheque",
    "direct_debit": "Direct debit",
    "paypal": "PayPal",
    "other": "Other",
}


@dataclass(frozen=True, slots=True)
class PaymentData:
    client_id: str
    amount: Decimal
    currency: str
    received_on: date
    method: str = "bank_transfer"
    reference: str = ""
    notes: str = ""
    # (invoice public id, amount) pairs; the rest of the payment becomes client credit.
    allocations: tuple[tuple[str, Decimal], ...] = ()
    # Money taken through a payment provider: which one, its id for the payment, its fee.
    provider: str | None = None
    provider_payment_id: str | None = None
    fee_minor: int = 0


def _minor(amount: Decimal, currency: str, field: str) -> int:
    try:
        value = require_minor(amount, field, currency)
    except (BillingError, TypeError) as exc:
        raise InvalidInput({field: f"Enter an amount {currency} can hold."}) from exc
    if value <= 0:
        raise InvalidInput({field: "The amount must be greater than 0."})
    return value


def _open_invoice(actor: Actor, client: Client, public_id: str, currency: str) -> Document:
    doc = db.session.scalar(
        select(Document).where(
            Document.public_id == public_id,
            Document.business_id == actor.business.id,
            Document.kind == DocumentKind.INVOICE,
        )
    )
    if doc is None or doc.client_id != client.id:
        raise InvalidInput({"allocations": "One invoice is not this client's."})
    if doc.status not in OPEN_STATUSES:
        raise InvalidInput({"allocations": f"Invoice {doc.number or 'draft'} is not open."})
    if doc.currency != currency:
        raise InvalidInput(
            {"allocations": f"Invoice {doc.number} is in {doc.currency}, not {currency}."}
        )
    return doc


def record_payment(actor: Actor, data: PaymentData) -> Payment:
    """Store the payment and allocate it; what no invoice takes stays as client credit."""
    actor.require(Role.ACCOUNTANT)
    client = db.session.scalar(
        select(Client).where(
            Client.public_id == data.client_id, Client.business_id == actor.business.id
        )
    )
    if client is None:
        raise InvalidInput({"client_id": "Choose one of your clients."})
    if data.method not in METHODS:
        raise InvalidInput({"method": "Choose one of the listed methods."})
    currency = data.currency.upper()
    amount = _minor(data.amount, currency, "amount")
    payment = Payment(
        business_id=actor.business.id,
        client_id=client.id,
        received_on=data.received_on,
        amount_minor=amount,
        currency=currency,
        method=data.method,
        reference=data.reference.strip(),
        notes=data.notes,
        provider=data.provider,
        provider_payment_id=data.provider_payment_id,
        fee_minor=data.fee_minor,
    )
    db.session.add(payment)
    remaining = amount
    touched: list[Document] = []
    for public_id, value in data.allocations:
        doc = _open_invoice(actor, client, public_id, currency)
        share = _minor(value, currency, "allocations")
        balances.refresh(doc)
        if share > doc.balance_minor:
            raise InvalidInput(
                {"allocations": f"Invoice {doc.number} has less than that left to pay."}
            )
        if share > remaining:
            raise InvalidInput({"allocations": "The allocations exceed the payment."})
        payment.allocations.append(PaymentAllocation(document_id=doc.id, amount_minor=share))
        remaining -= share
        touched.append(doc)
    for doc in touched:
        balances.refresh(doc)
    db.session.flush()
    audit.record(
        business=actor.business,
        actor=actor.user,
        action="payment.recorded",
        entity_type="payment",
        entity_id=payment.public_id,
        after={
            "amount_minor": amount,
            "currency": currency,
            "method": data.method,
            "allocations": {d.public_id: a for d, a in zip(touched, _shares(payment), strict=True)},
            "credit_minor": remaining,
        },
    )
    told = _tell_paid(actor, client, [d for d in touched if d.status == "paid"])
    db.session.commit()
    notifications.dispatch(told)
    return payment


def _tell_paid(actor: Actor, client: Client, paid: list[Document]) -> list[Any]:
    """The team's channels hear of each invoice this payment settled (after commit)."""
    messages: list[Any] = []
    for doc in paid:
        amount = str(Money(doc.amount_due_minor, doc.currency))
        messages += notifications.notify(
            actor.business,
            "invoice.paid",
            {
                "id": doc.public_id,
                "title": f"Invoice {doc.number} paid",
                "text": f"{client.name} paid {amount}.",
                "url": f"/app/invoices/{doc.public_id}",
                "facts": {"Client": client.name, "Amount": amount},
            },
        )
    return messages


def _shares(payment: Payment) -> list[int]:
    return [a.amount_minor for a in payment.allocations]


def pay_invoice(
    actor: Actor,
    invoice_id: str,
    amount: Decimal,
    received_on: date,
    method: str = "bank_transfer",
    reference: str = "",
) -> Payment:
    """A payment for one invoice: up to its balance goes to it, any excess becomes credit."""
    doc = documents.get_document(actor, invoice_id, DocumentKind.INVOICE)
    minor = _minor(amount, doc.currency, "amount")
    balances.refresh(doc)
    share = min(minor, max(doc.balance_minor, 0))
    allocations = ((invoice_id, Money(share, doc.currency).to_decimal()),) if share else ()
    return record_payment(
        actor,
        PaymentData(
            client_id=doc.client.public_id,
            amount=amount,
            currency=doc.currency,
            received_on=received_on,
            method=method,
            reference=reference,
            allocations=allocations,
        ),
    )


def get_payment(actor: Actor, public_id: str) -> Payment:
    payment = db.session.scalar(
        select(Payment).where(
            Payment.public_id == public_id, Payment.business_id == actor.business.id
        )
    )
    if payment is None:
        raise NotFound("No such payment.")
    return payment


def refund_payment(
    actor: Actor,
    public_id: str,
    amount: Decimal,
    refunded_on: date,
    reference: str = "",
    *,
    request_key: str | None = None,
) -> Refund:
    """Pay money back: first from the unallocated part, then undoing the latest allocations.

    A payment taken through a provider is refunded there first (idempotently); the refund is
    recorded here with the provider's id, so its webhook later changes nothing. ``request_key``
    (the refund form's own key) makes the same request sent twice one refund: the provider
    answers the second with the refund it already made, and that refund is returned."""
    actor.require(Role.ACCOUNTANT)
    if request_key is not None and not _REQUEST_KEY.fullmatch(request_key):
        raise InvalidInput({"request_key": "This form is damaged: reload the page."})
    payment = get_payment(actor, public_id)
    minor = _minor(amount, payment.currency, "amount")
    refunded = sum(r.amount_minor for r in payment.refunds)
    if minor > payment.amount_minor - refunded:
        raise InvalidInput({"amount": "That is more than is left of the payment to refund."})
    provider_refund_id = None
    if payment.provider and payment.provider_payment_id:
        from portal.services import provider_payments  # a cycle: it records through here

        provider_refund_id = provider_payments.refund_at_provider(
            payment, minor, len(payment.refunds), request_key
        )
        made = next(
            (r for r in payment.refunds if r.provider_refund_id == provider_refund_id), None
        )
        if made is not None:
            return made
        reference = reference or f"{payment.provider} refund {provider_refund_id}"
    refund = apply_refund(
        actor.business,
        actor.user,
        payment,
        minor,
        refunded_on,
        reference,
        provider_refund_id=provider_refund_id,
    )
    db.session.commit()
    return refund


def apply_refund(
    business: Business,
    user: User | None,
    payment: Payment,
    minor: int,
    refunded_on: date,
    reference: str = "",
    provider_refund_id: str | None = None,
) -> Refund:
    """Record a refund in the caller's transaction and reopen what it takes back."""
    free = balances.payment_unallocated(payment)
    to_release = minor - max(free, 0)
    touched: list[Document] = []
    for allocation in sorted(payment.allocations, key=lambda a: a.id, reverse=True):
        if to_release <= 0:
            break
        take = min(allocation.amount_minor, to_release)
        to_release -= take
        touched.append(allocation.document)
        if take == allocation.amount_minor:
            payment.allocations.remove(allocation)  # never an amount of 0: the check refuses it
        else:
            allocation.amount_minor -= take
    refund = Refund(
        business_id=business.id,
        payment_id=payment.id,
        refunded_on=refunded_on,
        amount_minor=minor,
        currency=payment.currency,
        reference=reference.strip()[:120],
        provider_refund_id=provider_refund_id,
    )
    db.session.add(refund)
    db.session.flush()
    for doc in touched:
        balances.refresh(doc)
    audit.record(
        business=business,
        actor=user,
        action="payment.refunded",
        entity_type="payment",
        entity_id=payment.public_id,
        after={
            "refund_minor": minor,
            "reference": refund.reference,
            "provider_refund_id": provider_refund_id,
        },
    )
    return refund


def apply_client_credit(actor: Actor, invoice_id: str) -> int:
    """Settle an invoice from the client's credit (overpayments, then credit notes), oldest first.

    Returns how much was applied, in minor units.
    """
    actor.require(Role.ACCOUNTANT)
    doc = documents.get_document(actor, invoice_id, DocumentKind.INVOICE)
    if doc.status not in OPEN_STATUSES:
        raise InvalidInput({"document": "Only an open invoice can take credit."})
    balances.refresh(doc)
    need = doc.balance_minor
    applied = 0
    payments = db.session.scalars(
        select(Payment)
        .where(Payment.client_id == doc.client_id, Payment.currency == doc.currency)
        .order_by(Payment.received_on, Payment.id)
    )
    for payment in payments:
        if need <= 0:
            break
        take = min(balances.payment_unallocated(payment), need)
        if take > 0:
            payment.allocations.append(PaymentAllocation(document_id=doc.id, amount_minor=take))
            db.session.flush()
            need -= take
            applied += take
    notes = db.session.scalars(
        select(Document)
        .where(
            Document.client_id == doc.client_id,
            Document.kind == DocumentKind.CREDIT_NOTE,
            Document.status == "issued",
            Document.currency == doc.currency,
        )
        .order_by(Document.issue_date, Document.id)
    )
    for note in notes:
        if need <= 0:
            break
        take = min(balances.credit_note_remaining(note), need)
        if take > 0:
            db.session.add(
                CreditApplication(credit_note_id=note.id, invoice_id=doc.id, amount_minor=take)
            )
            db.session.flush()
            need -= take
            applied += take
    balances.refresh(doc)
    if applied:
        audit.record(
            business=actor.business,
            actor=actor.user,
            action="invoice.credit_applied",
            entity_type="invoice",
            entity_id=doc.public_id,
            after={"applied_minor": applied, "balance_minor": doc.balance_minor},
        )
    db.session.commit()
    return applied
