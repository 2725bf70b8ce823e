"""A client's statement: opening balance, documents, payments, refunds, closing balance.

The same movements as the statement PDF (``portal.documents.views``), in every currency the
client was billed in: one running balance per currency, never one across currencies.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import func, or_, select

from portal.extensions import db
from portal.models import Business, Client, Document, DocumentKind, Payment, Refund
from portal.services.reports.tables import Cell, Column, Period, Report, Sheet, money

SLUG = "client-statement"
TITLE = "Client statement"
LEFT_OUT = ("draft", "void", "written_off")

COLUMNS = (
    Column("date", "Date", "date"),
    Column("type", "Type"),
    Column("reference", "Number or reference"),
    Column("charge", "Charge", "money"),
    Column("credit", "Credit", "money"),
    Column("balance", "Balance", "money"),
    Column("currency", "Currency"),
)

# (day, order within the day, type, reference, signed minor, currency)
Movement = tuple[date, int, int, str, str, int, str]


def _documents(client: Client) -> list[Movement]:
    stmt = select(
        Document.issue_date,
        Document.id,
        Document.kind,
        Document.number,
        Document.amount_due_minor,
        Document.total_minor,
        Document.currency,
    ).where(
        Document.client_id == client.id,
        Document.kind.in_([DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE]),
        Document.status.not_in(LEFT_OUT),
        Document.issue_date.is_not(None),
    )
    out: list[Movement] = []
    for day, doc_id, kind, number, due, total, cur in db.session.execute(stmt):
        if day is None:  # excluded by the query; narrows the type
            continue
        if kind is DocumentKind.INVOICE:
            out.append((day, 0, doc_id, "invoice", number or "", due, cur))
        else:
            out.append((day, 1, doc_id, "credit note", number or "", -total, cur))
    return out


def _money_moves(client: Client) -> list[Movement]:
    out: list[Movement] = []
    payments = select(
        Payment.received_on, Payment.id, Payment.reference, Payment.amount_minor, Payment.currency
    ).where(Payment.client_id == client.id)
    for day, pid, reference, amount, cur in db.session.execute(payments):
        out.append((day, 1, pid, "payment", reference, -amount, cur))
    refunds = (
        select(
            Refund.refunded_on, Refund.id, Refund.reference, Refund.amount_minor, Refund.currency
        )
        .outerjoin(Payment, Refund.payment_id == Payment.id)
        .outerjoin(Document, Refund.credit_note_id == Document.id)
        .where(or_(Payment.client_id == client.id, Document.client_id == client.id))
    )
    for day, rid, reference, amount, cur in db.session.execute(refunds):
        out.append((day, 1, rid, "refund", reference, amount, cur))
    return out


def count(client: Client) -> int:
    docs = select(func.count(Document.id)).where(Document.client_id == client.id)
    pays = select(func.count(Payment.id)).where(Payment.client_id == client.id)
    return int(db.session.scalar(docs) or 0) + int(db.session.scalar(pays) or 0)


def build(business: Business, client: Client, period: Period) -> Report:
    moves = _documents(client) + _money_moves(client)
    # Invoices first on a day, as the statement PDF orders them.
    moves.sort(key=lambda m: (m[6], m[0], m[1], m[3], m[2]))
    opening: dict[str, int] = defaultdict(int)
    running: dict[str, int] = {}
    charges: dict[str, int] = defaultdict(int)
    credits: dict[str, int] = defaultdict(int)
    rows: list[tuple[Cell, ...]] = []
    currencies: set[str] = set()
    for day, _, _, kind, reference, minor, cur in moves:
        if day > period.end:
            continue
        currencies.add(cur)
        if day < period.start:
            opening[cur] += minor
            continue
        running[cur] = running.get(cur, opening[cur]) + minor
        if minor > 0:
            charges[cur] += minor
        else:
            credits[cur] -= minor
        rows.append(
            (
                day,
                kind,
                reference,
                money(minor, cur) if minor > 0 else None,
                money(-minor, cur) if minor < 0 else None,
                money(running[cur], cur),
                cur,
            )
        )
    ordered = sorted(currencies)
    lead = tuple(
        ("Opening balance", None, None, None, None, money(opening[c], c), c) for c in ordered
    )
    totals = tuple(
        (
            "Closing balance",
            None,
            None,
            money(charges[c], c),
            money(credits[c], c),
            money(opening[c] + charges[c] - credits[c], c),
            c,
        )
        for c in ordered
    )
    return Report(
        slug=SLUG,
        title=TITLE,
        period=period,
        sheet=Sheet(COLUMNS, tuple(rows)),
        lead=lead,
        totals=totals,
        subject=client.name,
        notes=(
            "Charges are invoices (their amount due) and refunds paid back; credits are "
            "payments and credit notes. Void and written-off invoices are left out.",
        ),
    )
