"""What is owed, paid and credited: derived here and nowhere else."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select

from portal.billing.status import DELIVERY_STATUSES, InvoiceStatus, status_after_payment
from portal.extensions import db
from portal.models import (
    Client,
    CreditApplication,
    Document,
    DocumentKind,
    Payment,
    PaymentAllocation,
    Refund,
)


def _sum(stmt: object) -> int:
    return int(db.session.scalar(stmt) or 0)  # type: ignore[call-overload]


def paid_on(doc: Document) -> int:
    return _sum(
        select(func.sum(PaymentAllocation.amount_minor)).where(
            PaymentAllocation.document_id == doc.id
        )
    )


def credited_on(doc: Document) -> int:
    return _sum(
        select(func.sum(CreditApplication.amount_minor)).where(
            CreditApplication.invoice_id == doc.id
        )
    )


def settled_sql(document_id: Any) -> ColumnElement[int]:
    """What payments and credit notes together took off the invoice ``document_id`` (a bound
    parameter or a column of the caller's query), as one SQL expression."""
    return (
        select(func.coalesce(func.sum(PaymentAllocation.amount_minor), 0))
        .where(PaymentAllocation.document_id == document_id)
        .scalar_subquery()
        + select(func.coalesce(func.sum(CreditApplication.amount_minor), 0))
        .where(CreditApplication.invoice_id == document_id)
        .scalar_subquery()
    )


# Built once: this runs on every document page and portal view.
_SETTLED = select(settled_sql(bindparam("document_id")))


def settled_on(doc: Document) -> int:
    """What payments and credit notes together took off the invoice, in one query."""
    return int(db.session.scalar(_SETTLED, {"document_id": doc.id}) or 0)


def delivery_status(doc: Document) -> InvoiceStatus:
    """Where an invoice with nothing paid stands: issued, sent or viewed."""
    if doc.viewed_at is not None:
        return InvoiceStatus.VIEWED
    if doc.sent_at is not None:
        return InvoiceStatus.SENT
    return InvoiceStatus.ISSUED


def refresh(doc: Document) -> None:
    """Recompute an issued invoice's balance and payment status from its allocations."""
    db.session.flush()
    if doc.kind is DocumentKind.CREDIT_NOTE:
        doc.balance_minor = credit_note_remaining(doc)
        return
    if doc.kind is not DocumentKind.INVOICE:
        return
    paid, credited = paid_on(doc), credited_on(doc)
    doc.balance_minor = doc.amount_due_minor - paid - credited
    status = InvoiceStatus(doc.status) if doc.status != "draft" else None
    if status in DELIVERY_STATUSES | {InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID}:
        doc.status = status_after_payment(
            delivery_status(doc), max(doc.amount_due_minor - credited, 0), paid
        )


def payment_unallocated(payment: Payment) -> int:
    allocated = _sum(
        select(func.sum(PaymentAllocation.amount_minor)).where(
            PaymentAllocation.payment_id == payment.id
        )
    )
    refunded = _sum(select(func.sum(Refund.amount_minor)).where(Refund.payment_id == payment.id))
    return payment.amount_minor - allocated - refunded


def credit_note_remaining(note: Document) -> int:
    applied = _sum(
        select(func.sum(CreditApplication.amount_minor)).where(
            CreditApplication.credit_note_id == note.id
        )
    )
    refunded = _sum(select(func.sum(Refund.amount_minor)).where(Refund.credit_note_id == note.id))
    return note.total_minor - applied - refunded


@dataclass(frozen=True, slots=True)
class ClientCredit:
    currency: str
    minor: int


def client_credit(client: Client) -> list[ClientCredit]:
    """Overpayments and unapplied credit notes, per currency: what later invoices can consume."""
    db.session.flush()
    totals: dict[str, int] = defaultdict(int)
    for payment in db.session.scalars(select(Payment).where(Payment.client_id == client.id)):
        totals[payment.currency] += payment_unallocated(payment)
    notes = db.session.scalars(
        select(Document).where(
            Document.client_id == client.id,
            Document.kind == DocumentKind.CREDIT_NOTE,
            Document.status == "issued",
        )
    )
    for note in notes:
        totals[note.currency] += credit_note_remaining(note)
    return [ClientCredit(c, m) for c, m in sorted(totals.items()) if m]
