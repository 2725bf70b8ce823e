import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import Payment, Role
from portal.services import balances, payments
from portal.services.errors import Forbidden, InvalidInput
from portal.services.payments import PaymentData
from tests.conftest import make_team
from tests.services import factories as f

DAY = date(2026, 4, 1)


def test_a_partial_payment_leaves_a_balance(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    doc = f.issued_invoice(team.actor(), f.client(team.actor()), f.line(price="250"))
    payments.pay_invoice(actor, doc.public_id, Decimal("100"), DAY)
    assert (doc.status, doc.balance_minor) == ("partially_paid", 15000)
    payments.pay_invoice(actor, doc.public_id, Decimal("150"), DAY)
    assert (doc.status, doc.balance_minor) == ("paid", 0)


def test_an_overpayment_becomes_credit_that_a_later_invoice_consumes(team, db):
    actor = team.actor()
    client = f.client(actor)
    first = f.issued_invoice(actor, client, f.line(price="80"))
    payments.pay_invoice(actor, first.public_id, Decimal("100"), DAY)
    assert first.status == "paid"
    assert balances.client_credit(client) == [balances.ClientCredit("EUR", 2000)]
    second = f.issued_invoice(actor, client, f.line(price="50"))
    assert payments.apply_client_credit(actor, second.public_id) == 2000
    assert (second.status, second.balance_minor) == ("partially_paid", 3000)
    assert balances.client_credit(client) == []


def test_one_payment_across_several_invoices(team, db):
    actor = team.actor()
    client = f.client(actor)
    a = f.issued_invoice(actor, client, f.line(price="40"))
    b = f.issued_invoice(actor, client, f.line(price="60"))
    payments.record_payment(
        actor,
        PaymentData(
            client_id=client.public_id,
            amount=Decimal("90"),
            currency="EUR",
            received_on=DAY,
            allocations=((a.public_id, Decimal("40")), (b.public_id, Decimal("50"))),
        ),
    )
    assert (a.status, a.balance_minor) == ("paid", 0)
    assert (b.status, b.balance_minor) == ("partially_paid", 1000)


@pytest.mark.parametrize(
    ("allocations", "amount", "errors"),
    [
        ((("A", "40"),), "30", {"allocations": "The allocations exceed the payment."}),
        (
            (("A", "41"),),
            "100",
            {"allocations": "Invoice INV-2026-00001 has less than that left to pay."},
        ),
        ((("A", "1.001"),), "10", {"allocations": "Enter an amount EUR can hold."}),
    ],
)
def test_bad_allocations_write_nothing(team, db, allocations, amount, errors):
    actor = team.actor()
    client = f.client(actor)
    a = f.issued_invoice(actor, client, f.line(price="40"))
    ids = {"A": a.public_id}
    with pytest.raises(InvalidInput) as info:
        payments.record_payment(
            actor,
            PaymentData(
                client_id=client.public_id,
                amount=Decimal(amount),
                currency="EUR",
                received_on=DAY,
                allocations=tuple((ids[k], Decimal(v)) for k, v in allocations),
            ),
        )
    assert info.value.errors == errors
    _db.session.rollback()
    assert _db.session.scalar(select(func.count(Payment.id))) == 0


def test_a_payment_must_be_positive_and_in_the_invoice_currency(team, db):
    actor = team.actor()
    client = f.client(actor)
    doc = f.issued_invoice(actor, client)
    with pytest.raises(InvalidInput) as info:
        payments.pay_invoice(actor, doc.public_id, Decimal("0"), DAY)
    assert info.value.errors == {"amount": "The amount must be greater than 0."}
    with pytest.raises(InvalidInput, match=re.escape("is in EUR, not USD.")):
        payments.record_payment(
            actor,
            PaymentData(
                client_id=client.public_id,
                amount=Decimal(1),
                currency="USD",
                received_on=DAY,
                allocations=((doc.public_id, Decimal(1)),),
            ),
        )


def test_a_refund_reopens_the_invoice(team, db):
    actor = team.actor()
    doc = f.issued_invoice(actor, f.client(actor), f.line(price="100"))
    payment = payments.pay_invoice(actor, doc.public_id, Decimal("100"), DAY)
    payments.refund_payment(actor, payment.public_id, Decimal("30"), DAY, "RF-1")
    assert (doc.status, doc.balance_minor) == ("partially_paid", 3000)
    with pytest.raises(InvalidInput) as info:
        payments.refund_payment(actor, payment.public_id, Decimal("71"), DAY)
    assert info.value.errors == {"amount": "That is more than is left of the payment to refund."}


def test_staff_cannot_record_payments_and_foreign_invoices_are_refused(team, db):
    doc = f.issued_invoice(team.actor(), f.client(team.actor()))
    with pytest.raises(Forbidden):
        payments.pay_invoice(team.actor(Role.STAFF), doc.public_id, Decimal(1), DAY)
    other = make_team("Other Co")
    other_client = f.client(other.actor())
    with pytest.raises(InvalidInput) as info:
        payments.record_payment(
            other.actor(),
            PaymentData(
                client_id=other_client.public_id,
                amount=Decimal(1),
                currency="EUR",
                received_on=DAY,
                allocations=((doc.public_id, Decimal(1)),),
            ),
        )
    assert info.value.errors == {"allocations": "One invoice is not this client's."}
