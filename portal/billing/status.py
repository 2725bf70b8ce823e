"""The invoice status machine as plain rules: which moves are allowed, what a payment total
means, and when an invoice is overdue.

``draft`` has no number yet and is deleted rather than voided. ``issued``, ``sent`` and
``viewed`` record how far delivery got; payments move an invoice to ``partially_paid`` or
``paid``, and a refund moves it back. ``void`` and ``written_off`` are final.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from portal.billing.errors import BillingError

__all__ = [
    "DELIVERY_STATUSES",
    "OPEN_STATUSES",
    "InvoiceStatus",
    "PaymentStatus",
    "can_transition",
    "derive_payment_status",
    "is_overdue",
    "status_after_payment",
]


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    SENT = "sent"
    VIEWED = "viewed"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"
    WRITTEN_OFF = "written_off"


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERPAID = "overpaid"


S = InvoiceStatus
#: Statuses that say how far delivery got while nothing is paid.
DELIVERY_STATUSES = frozenset({S.ISSUED, S.SENT, S.VIEWED})
#: Statuses in which money is still owed.
OPEN_STATUSES = DELIVERY_STATUSES | {S.PARTIALLY_PAID}

_SETTLE = {S.PARTIALLY_PAID, S.PAID, S.VOID, S.WRITTEN_OFF}
_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    S.DRAFT: frozenset({S.ISSUED}),
    S.ISSUED: frozenset({S.SENT, S.VIEWED, *_SETTLE}),
    S.SENT: frozenset({S.VIEWED, *_SETTLE}),
    S.VIEWED: frozenset(_SETTLE),
    # A partly paid invoice cannot be voided: the payment must be refunded first.
    S.PARTIALLY_PAID: frozenset({S.PAID, S.WRITTEN_OFF, *DELIVERY_STATUSES}),
    S.PAID: frozenset({S.PARTIALLY_PAID, *DELIVERY_STATUSES}),
    S.VOID: frozenset(),
    S.WRITTEN_OFF: frozenset(),
}


def can_transition(current: InvoiceStatus | str, target: InvoiceStatus | str) -> bool:
    """Whether an invoice may move from ``current`` to ``target`` (staying put is not a move)."""
    return InvoiceStatus(target) in _TRANSITIONS[InvoiceStatus(current)]


def derive_payment_status(total_due_minor: int, paid_minor: int) -> PaymentStatus:
    """What the payments received say, in minor units of the invoice currency.

    A document with nothing to pay (zero or credit total) counts as paid once nothing is owed.
    """
    for name, value in (("total_due_minor", total_due_minor), ("paid_minor", paid_minor)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if paid_minor < 0:
        raise BillingError("paid_minor must not be negative")
    if paid_minor > max(total_due_minor, 0):
        return PaymentStatus.OVERPAID
    if paid_minor >= total_due_minor:
        return PaymentStatus.PAID
    return PaymentStatus.PARTIALLY_PAID if paid_minor else PaymentStatus.UNPAID


def status_after_payment(
    delivery: InvoiceStatus | str, total_due_minor: int, paid_minor: int
) -> InvoiceStatus:
    """The invoice status once payments total ``paid_minor``; ``delivery`` (issued, sent or
    viewed) is where an invoice with nothing paid returns to after a refund."""
    delivery_status = InvoiceStatus(delivery)
    if delivery_status not in DELIVERY_STATUSES:
        raise BillingError(f"delivery status must be issued, sent or viewed, not {delivery}")
    payment = derive_payment_status(total_due_minor, paid_minor)
    if payment is PaymentStatus.UNPAID:
        return delivery_status
    if payment is PaymentStatus.PARTIALLY_PAID:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.PAID


def is_overdue(due_date: date | None, today: date, status: InvoiceStatus | str) -> bool:
    """Whether money is still owed after the due date. ``today`` is the date in the business's
    time zone, computed by the caller; an invoice due today is not yet overdue."""
    if due_date is None:
        return False
    return InvoiceStatus(status) in OPEN_STATUSES and today > due_date
