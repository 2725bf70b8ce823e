"""Payments received in the period: who paid, how, through which provider, for which invoices."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Select, func, select

from portal.extensions import db
from portal.models import Business, Client, Document, Payment, PaymentAllocation
from portal.services.reports.tables import (
    Column,
    Period,
    Report,
    Sheet,
    money,
    totals_by_currency,
)

SLUG = "payments-received"
TITLE = "Payments received"
MANUAL = "manual"

COLUMNS = (
    Column("date", "Date", "date"),
    Column("client", "Client"),
    Column("method", "Method"),
    Column("provider", "Provider"),
    Column("reference", "Reference"),
    Column("invoices", "Invoices"),
    Column("amount", "Amount", "money"),
    Column("fee", "Fee", "money"),
    Column("net", "Net", "money"),
    Column("currency", "Currency"),
)


def _payments(business: Business, period: Period) -> Select:
    return select(Payment).where(
        Payment.business_id == business.id,
        Payment.received_on >= period.start,
        Payment.received_on <= period.end,
    )


def count(business: Business, period: Period) -> int:
    stmt = _payments(business, period).with_only_columns(func.count(Payment.id))
    return int(db.session.scalar(stmt) or 0)


def _invoice_numbers(business: Business, period: Period) -> dict[int, list[str]]:
    in_period = _payments(business, period).with_only_columns(Payment.id)
    stmt = (
        select(PaymentAllocation.payment_id, Document.number)
        .join(Document, Document.id == PaymentAllocation.document_id)
        .where(PaymentAllocation.payment_id.in_(in_period))
        .order_by(Document.number)
    )
    numbers: dict[int, list[str]] = defaultdict(list)
    for payment_id, number in db.session.execute(stmt):
        numbers[payment_id].append(number or "")
    return numbers


def build(business: Business, period: Period) -> Report:
    numbers = _invoice_numbers(business, period)
    stmt = (
        _payments(business, period)
        .with_only_columns(
            Payment.id,
            Payment.received_on,
            Client.name,
            Payment.method,
            Payment.provider,
            Payment.reference,
            Payment.amount_minor,
            Payment.fee_minor,
            Payment.currency,
        )
        .join(Client, Client.id == Payment.client_id)
        .order_by(Payment.received_on, Payment.id)
    )
    rows = []
    for pid, day, client, method, provider, reference, amount, fee, cur in db.session.execute(stmt):
        rows.append(
            (
                day,
                client,
                method.replace("_", " "),
                provider or MANUAL,
                reference,
                ", ".join(numbers.get(pid, [])),
                money(amount, cur),
                money(fee, cur),
                money(amount - fee, cur),
                cur,
            )
        )
    sheet = Sheet(COLUMNS, tuple(rows))
    return Report(
        slug=SLUG,
        title=TITLE,
        period=period,
        sheet=sheet,
        totals=totals_by_currency(sheet, label_key="date", sum_keys=("amount", "fee", "net")),
        notes=(
            "Net is the amount less the provider's fee; refunds are in the gross, fees "
            "and net report.",
        ),
    )
