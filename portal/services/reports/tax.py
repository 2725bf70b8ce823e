"""Tax collected per month and tax rate: tax on invoices issued less tax on credit notes issued.

The figures come from each document's tax breakdown as it was frozen at issue (EN 16931 BG-23),
so a tax rate edited later changes nothing here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, func, select

from portal.extensions import db
from portal.models import Business, Client, Document, DocumentKind
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

SLUG = "tax-collected"
TITLE = "Tax collected"
# A void invoice or credit note never happened for tax; written-off invoices still count
# (the tax was invoiced; relief for bad debts is a separate matter).
NOT_COUNTED = ("draft", "void")

COLUMNS = (
    Column("month", "Month", "month"),
    Column("tax", "Tax"),
    Column("category", "Category"),
    Column("rate", "Rate %", "percent"),
    Column("invoiced_net", "Invoiced net", "money"),
    Column("invoiced_tax", "Invoiced tax", "money"),
    Column("credited_net", "Credited net", "money"),
    Column("credited_tax", "Credited tax", "money"),
    Column("net", "Net", "money"),
    Column("tax_amount", "Tax", "money"),
    Column("currency", "Currency"),
)
SUMMED = ("invoiced_net", "invoiced_tax", "credited_net", "credited_tax", "net", "tax_amount")

DATA_COLUMNS = (
    Column("date", "Issue date", "date"),
    Column("month", "Month", "month"),
    Column("document", "Document"),
    Column("kind", "Kind"),
    Column("client", "Client"),
    Column("tax", "Tax"),
    Column("category", "Category"),
    Column("rate", "Rate %", "percent"),
    Column("net", "Net", "money"),
    Column("tax_amount", "Tax", "money"),
    Column("currency", "Currency"),
)


def _documents(business: Business, period: Period) -> Select:
    return select(Document).where(
        Document.business_id == business.id,
        Document.kind.in_([DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE]),
        Document.status.not_in(NOT_COUNTED),
        Document.issue_date >= period.start,
        Document.issue_date <= period.end,
    )


def count(business: Business, period: Period) -> int:
    stmt = _documents(business, period).with_only_columns(func.count(Document.id))
    return int(db.session.scalar(stmt) or 0)


def build(business: Business, period: Period) -> Report:
    stmt = (
        _documents(business, period)
        .with_only_columns(
            Document.issue_date,
            Document.number,
            Document.kind,
            Client.name,
            Document.breakdown,
            Document.currency,
        )
        .join(Client, Client.id == Document.client_id)
        .order_by(Document.issue_date, Document.kind, Document.number, Document.id)
    )
    sums: dict[tuple[date, str, str, str, Decimal], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    data: list[tuple[Cell, ...]] = []
    for day, number, kind, client, breakdown, cur in db.session.execute(stmt):
        credit = kind is DocumentKind.CREDIT_NOTE
        for row in breakdown or []:
            percent = Decimal(str(row["percent"]))
            name = str(row.get("name") or row.get("category") or "")
            category = str(row.get("category") or "")
            base, tax = int(row["base_minor"]), int(row["tax_minor"])
            entry = sums[(month(day), cur, name, category, percent)]
            at = 2 if credit else 0
            entry[at] += base
            entry[at + 1] += tax
            sign = -1 if credit else 1
            data.append(
                (
                    day,
                    month(day),
                    number or "",
                    "credit note" if credit else "invoice",
                    client,
                    name,
                    category,
                    percent,
                    money(sign * base, cur),
                    money(sign * tax, cur),
                    cur,
                )
            )
    rows: list[tuple[Cell, ...]] = []
    for (first, cur, name, category, percent), (i_net, i_tax, c_net, c_tax) in sorted(
        sums.items(), key=lambda item: (item[0][0], item[0][1], item[0][2], item[0][4])
    ):
        rows.append(
            (
                first,
                name,
                category,
                percent,
                money(i_net, cur),
                money(i_tax, cur),
                money(c_net, cur),
                money(c_tax, cur),
                money(i_net - c_net, cur),
                money(i_tax - c_tax, cur),
                cur,
            )
        )
    sheet = Sheet(COLUMNS, tuple(rows))
    return Report(
        slug=SLUG,
        title=TITLE,
        period=period,
        sheet=sheet,
        totals=totals_by_currency(sheet, label_key="month", sum_keys=SUMMED),
        data=Sheet(DATA_COLUMNS, tuple(data)),
        notes=(
            "Net and tax are what invoices issued in the month charged, less what credit "
            "notes issued in the month gave back, per tax rate; void documents are left out.",
        ),
    )
