import re
from datetime import date

import pytest

from portal.billing.errors import BillingError
from portal.billing.status import (
    InvoiceStatus,
    PaymentStatus,
    can_transition,
    derive_payment_status,
    is_overdue,
    status_after_payment,
)

S = InvoiceStatus


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.DRAFT, S.ISSUED),
        (S.ISSUED, S.SENT),
        (S.SENT, S.VIEWED),
        (S.VIEWED, S.PARTIALLY_PAID),
        (S.PARTIALLY_PAID, S.PAID),
        (S.SENT, S.PAID),
        (S.ISSUED, S.VOID),
        (S.VIEWED, S.WRITTEN_OFF),
        (S.PARTIALLY_PAID, S.WRITTEN_OFF),
        (S.PAID, S.PARTIALLY_PAID),  # part refunded
        (S.PAID, S.VIEWED),  # fully refunded
        ("sent", "viewed"),
    ],
)
def test_allowed_moves(current: InvoiceStatus, target: InvoiceStatus) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.DRAFT, S.SENT),  # must be issued (numbered) first
        (S.DRAFT, S.VOID),  # a draft is deleted, not voided
        (S.VIEWED, S.SENT),
        (S.PARTIALLY_PAID, S.VOID),  # refund first
        (S.PAID, S.VOID),
        (S.VOID, S.ISSUED),
        (S.WRITTEN_OFF, S.PAID),
        (S.SENT, S.SENT),
        (S.ISSUED, S.DRAFT),
    ],
)
def test_refused_moves(current: InvoiceStatus, target: InvoiceStatus) -> None:
    assert not can_transition(current, target)


def test_unknown_status_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=re.escape("'archived' is not a valid InvoiceStatus")):
        can_transition("archived", S.PAID)


@pytest.mark.parametrize(
    ("due", "paid", "status"),
    [
        (10000, 0, PaymentStatus.UNPAID),
        (10000, 1, PaymentStatus.PARTIALLY_PAID),
        (10000, 9999, PaymentStatus.PARTIALLY_PAID),
        (10000, 10000, PaymentStatus.PAID),
        (10000, 10001, PaymentStatus.OVERPAID),
        (0, 0, PaymentStatus.PAID),
        (-500, 0, PaymentStatus.PAID),
    ],
)
def test_derive_payment_status(due: int, paid: int, status: PaymentStatus) -> None:
    assert derive_payment_status(due, paid) is status


def test_payment_status_refuses_bad_input() -> None:
    with pytest.raises(BillingError, match=re.escape("paid_minor must not be negative")):
        derive_payment_status(100, -1)
    with pytest.raises(TypeError, match=re.escape("paid_minor must be an int, not float")):
        derive_payment_status(100, 1.0)  # type: ignore[arg-type]


def test_status_after_payment_returns_to_the_delivery_status() -> None:
    assert status_after_payment(S.VIEWED, 10000, 0) is S.VIEWED
    assert status_after_payment(S.SENT, 10000, 2500) is S.PARTIALLY_PAID
    assert status_after_payment(S.SENT, 10000, 12000) is S.PAID
    with pytest.raises(BillingError, match=re.escape("delivery status must be issued, sent or")):
        status_after_payment(S.PAID, 10000, 0)


@pytest.mark.parametrize(
    ("status", "today", "overdue"),
    [
        (S.SENT, date(2026, 3, 31), False),  # due today
        (S.SENT, date(2026, 4, 1), True),
        (S.PARTIALLY_PAID, date(2026, 4, 1), True),
        (S.PAID, date(2026, 4, 1), False),
        (S.VOID, date(2026, 4, 1), False),
        (S.DRAFT, date(2026, 4, 1), False),
        (S.WRITTEN_OFF, date(2026, 4, 1), False),
    ],
)
def test_is_overdue(status: InvoiceStatus, today: date, overdue: bool) -> None:
    assert is_overdue(date(2026, 3, 31), today, status) is overdue


def test_no_due_date_is_never_overdue() -> None:
    assert not is_overdue(None, date(2030, 1, 1), S.SENT)
