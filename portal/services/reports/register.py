"""The invoice register: every numbered invoice issued in the period, with what is paid and owed."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from portal.extensions import db
from portal.models import (
    Business,
    Client,
    CreditApplication,
    Document,
    DocumentKind,
    PaymentAllocation,
)
from portal.services.reports.tables import (
    Column,
    Period,
    Report,
    Sheet,
    money,
    totals_by_currency,
)

SLUG = "invoice-register"
TITLE = "Invoice register"

COLUMNS = (
    Column("number", "Number"),
    Column("client", "Client"),
    Column("issue_date", "Issue date", "date"),
    Column("due_date", "Due date", "date"),
    Column("status", "Status"),
    Column("net", "Net", "money"),
    Column("tax", "Tax", "money"),
    Column("total", "Total", "money"),
    Column("paid", "Paid", "money"),
    Column("credited", "Credited", "money"),
    Column("balance", "Balance", "money"),
    Column("currency", "Currency"),
)
SUMMED = ("net", "tax", "total", "paid", "credited", "balance")
# A void invoice keeps its number in the register but adds nothing to the totals.
LEFT_OUT_OF_TOTALS = frozenset({"void"})


def _invoices(business: Business, period: Period) -> Select:
    return select(Document).where(
        Document.business_id == business.id,
        Document.kind == DocumentKind.INVOICE,
        Document.status != "draft",
        Document.issue_date >= period.start,
        Document.issue_date <= period.end,
    )


def count(business: Business, period: Period) -> int:
    stmt = _invoices(business, period).with_only_columns(func.count(Document.id))
    return int(db.session.scalar(stmt) or 0)


def build(business: Business, period: Period) -> Report:
    paid = (
        select(
            PaymentAllocation.document_id.label("doc_id"),
            func.sum(PaymentAllocation.amount_minor).label("minor"),
        )
        .group_by(PaymentAllocation.document_id)
        .subquery()
    )
    credited = (
        select(
            CreditApplication.invoice_id.label("doc_id"),
            func.sum(CreditApplication.amount_minor).label("minor"),
        )
        .group_by(CreditApplication.invoice_id)
        .subquery()
    )
    stmt = (
        _invoices(business, period)
        .with_only_columns(
            Document.number,
            Client.name,
            Document.issue_date,
            Document.due_date,
            Document.status,
            Document.net_minor,
            Document.tax_minor,
            Document.total_minor,
            paid.c.minor,
            credited.c.minor,
            Document.balance_minor,
            Document.currency,
        )
        .join(Client, Client.id == Document.client_id)
        .outerjoin(paid, paid.c.doc_id == Document.id)
        .outerjoin(credited, credited.c.doc_id == Document.id)
        .order_by(Document.issue_date, Document.number, Document.id)
    )
    rows = []
    for row in db.session.execute(stmt):
        number, client, issued, due, status, net, tax, total, pd, cr, bal, cur = row
        rows.append(
            (
                number or "",
                client,
                issued,
                due,
                status.replace("_", " "),
                money(net, cur),
                money(tax, cur),
                money(total, cur),
                money(pd, cur),
                money(cr, cur),
                money(bal, cur),
                cur,
            )
        )
    sheet = Sheet(COLUMNS, tuple(rows))
    counted = Sheet(COLUMNS, tuple(r for r in rows if r[4] not in LEFT_OUT_OF_TOTALS))
    return Report(
        slug=SLUG,
        title=TITLE,
        period=period,
        sheet=sheet,
        totals=totals_by_currency(counted, label_key="number", sum_keys=SUMMED),
        notes=(
            "Paid and credited are as of today; balance is the amount due less both.",
            "Void invoices are listed with their numbers but left out of the totals.",
        ),
    )
