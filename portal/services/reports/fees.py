"""Gross, fees and net per month and provider: payments received, less the providers' fees,
less refunds paid back (each in the month it was paid back)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import func, or_, select

from portal.extensions import db
from portal.models import Business, Client, Document, Payment, Refund
from portal.services.reports.tables import (
    Cell,
    Column,
    Period,
    Report,
    Sheet,
    money,
    month,
    totals_by_currency,
)

SLUG = "gross-fees-net"
TITLE = "Gross, fees and net"
MANUAL = "manual"

COLUMNS = (
    Column("month", "Month", "month"),
    Column("provider", "Provider"),
    Column("payments", "Payments", "count"),
    Column("gross", "Gross", "money"),
    Column("fees", "Fees", "money"),
    Column("refunds", "Refunds", "money"),
    Column("net", "Net", "money"),
    Column("currency", "Currency"),
)
DATA_COLUMNS = (
    Column("date", "Date", "date"),
    Column("month", "Month", "month"),
    Column("provider", "Provider"),
    Column("kind", "Kind"),
    Column("client", "Client"),
    Column("reference", "Reference"),
    Column("gross", "Gross", "money"),
    Column("fees", "Fees", "money"),
    Column("refunds", "Refunds", "money"),
    Column("net", "Net", "money"),
    Column("currency", "Currency"),
)


def count(business: Business, period: Period) -> int:
    payments = select(func.count(Payment.id)).where(
        Payment.business_id == business.id,
        Payment.received_on >= period.start,
        Payment.received_on <= period.end,
    )
    refunds = select(func.count(Refund.id)).where(
        Refund.business_id == business.id,
        Refund.refunded_on >= period.start,
        Refund.refunded_on <= period.end,
    )
    return int(db.session.scalar(payments) or 0) + int(db.session.scalar(refunds) or 0)


def build(business: Business, period: Period) -> Report:
    payments = (
        select(
            Payment.received_on,
            Payment.provider,
            Client.name,
            Payment.reference,
            Payment.amount_minor,
            Payment.fee_minor,
            Payment.currency,
        )
        .join(Client, Client.id == Payment.client_id)
        .where(
            Payment.business_id == business.id,
            Payment.received_on >= period.start,
            Payment.received_on <= period.end,
        )
        .order_by(Payment.received_on, Payment.id)
    )
    # A refund of a payment belongs to that payment's provider; a credit note's refund was
    # paid back by hand.
    refunds = (
        select(
            Refund.refunded_on,
            Payment.provider,
            Client.name,
            Refund.reference,
            Refund.amount_minor,
            Refund.currency,
        )
        .outerjoin(Payment, Refund.payment_id == Payment.id)
        .outerjoin(Document, Refund.credit_note_id == Document.id)
        .join(Client, or_(Client.id == Payment.client_id, Client.id == Document.client_id))
        .where(
            Refund.business_id == business.id,
            Refund.refunded_on >= period.start,
            Refund.refunded_on <= period.end,
        )
        .order_by(Refund.refunded_on, Refund.id)
    )
    # (month, provider, currency) -> [payments, gross, fees, refunds]
    sums: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    data: list[tuple[Cell, ...]] = []
    for day, provider, client, reference, amount, fee, cur in db.session.execute(payments):
        name = provider or MANUAL
        entry = sums[(month(day), name, cur)]
        entry[0] += 1
        entry[1] += amount
        entry[2] += fee
        data.append(
            (
                day,
                month(day),
                name,
                "payment",
                client,
                reference,
                money(amount, cur),
                money(fee, cur),
                money(0, cur),
                money(amount - fee, cur),
                cur,
            )
        )
    for day, provider, client, reference, amount, cur in db.session.execute(refunds):
        name = provider or MANUAL
        sums[(month(day), name, cur)][3] += amount
        data.append(
            (
                day,
                month(day),
                name,
                "refund",
                client,
                reference,
                money(0, cur),
                money(0, cur),
                money(amount, cur),
                money(-amount, cur),
                cur,
            )
        )
    data.sort(key=lambda row: (row[0], row[3] != "payment"))
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (
            first,
            name,
            n,
            money(gross, cur),
            money(fees, cur),
            money(refunded, cur),
            money(gross - fees - refunded, cur),
            cur,
        )
        for (first, name, cur), (n, gross, fees, refunded) in sorted(
            sums.items(),
            key=lambda item: (item[0][0], item[0][1], item[0][2]),
        )
    )
    sheet = Sheet(COLUMNS, rows)
    return Report(
        slug=SLUG,
        title=TITLE,
        period=period,
        sheet=sheet,
        totals=totals_by_currency(
            sheet, label_key="month", sum_keys=("gross", "fees", "refunds", "net")
        ),
        data=Sheet(DATA_COLUMNS, tuple(data)),
        notes=(f"Net is gross less fees less refunds; '{MANUAL}' is money recorded by hand.",),
    )
