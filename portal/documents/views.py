"""Plain, read-only views of what a PDF shows: strings formatted for the reader's locale.

The views are the only thing the PDF templates see, the data the cache key hashes, and the
source of the placeholders a business's own template may use. No ORM object leaves here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, get_currency_precision
from sqlalchemy import select

from portal.billing.status import OPEN_STATUSES, is_overdue
from portal.documents.labels import document_locale, labels_for
from portal.documents.templating import View
from portal.extensions import db
from portal.models import Business, Client, Document, DocumentKind, Payment, Refund
from portal.services import balances
from portal.services.pricing import business_today


@lru_cache(maxsize=4096)
def _money(minor: int, currency: str, locale: str) -> str:
    """Formatting through Babel is the slowest part of a page; the same amounts recur."""
    amount = Decimal(minor).scaleb(-get_currency_precision(currency))
    return format_currency(amount, currency, locale=locale)


@dataclass(frozen=True, slots=True)
class Formatter:
    locale: str
    currency: str

    def money(self, minor: int) -> str:
        return _money(minor, self.currency, self.locale)

    def amount(self, value: Decimal) -> str:
        exponent = value.normalize().as_tuple().exponent
        finer = isinstance(exponent, int) and -exponent > get_currency_precision(self.currency)
        return format_currency(
            value,
            self.currency,
            locale=self.locale,
            currency_digits=not finer,
            decimal_quantization=not finer,
        )

    def date(self, value: date | None) -> str:
        return format_date(value, "medium", locale=self.locale) if value else ""

    def number(self, value: Decimal) -> str:
        return format_decimal(value.normalize(), locale=self.locale)


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    lines: tuple[str, ...]
    tax_id: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class LineRow:
    description: str
    quantity: str
    unit_price: str
    taxes: str
    amount: str


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: str
    grand: bool = False


@dataclass(frozen=True, slots=True)
class DocumentPage:
    """Everything one invoice, quote or credit-note PDF prints."""

    kind: str
    locale: str
    lang: str
    title: str
    number: str
    status: str
    watermark: str
    watermark_kind: str  # draft, paid, unpaid, overdue, void, or ""
    facts: tuple[Row, ...]
    seller: Party
    buyer: Party
    lines: tuple[LineRow, ...]
    totals: tuple[Row, ...]
    notes: str
    footer: str
    placeholders: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatementRow:
    date: str
    text: str
    charge: str
    credit: str
    balance: str


@dataclass(frozen=True, slots=True)
class StatementPage:
    kind: str
    locale: str
    lang: str
    title: str
    number: str  # the period, for the file name and metadata
    watermark: str
    watermark_kind: str
    seller: Party
    buyer: Party
    period: str
    opening: str
    rows: tuple[StatementRow, ...]
    ageing: tuple[Row, ...]
    closing: str
    placeholders: dict[str, dict[str, str]] = field(default_factory=dict)


Page = DocumentPage | StatementPage


def placeholder_views(page: Page) -> dict[str, View]:
    return {name: View(name, values) for name, values in page.placeholders.items()}


def _seller(business: Business) -> Party:
    city = " ".join(p for p in (business.postal_code, business.city) if p)
    lines = (business.address_line1, business.address_line2, city, business.country)
    return Party(business.legal_name, tuple(p for p in lines if p), business.tax_id)


def _buyer(client: Client) -> Party:
    city = " ".join(p for p in (client.billing_postal_code, client.billing_city) if p)
    lines = (client.billing_line1, client.billing_line2, city, client.billing_country)
    return Party(client.name, tuple(p for p in lines if p), client.tax_id, client.email or "")


def locale_for(client: Client, business: Business) -> str:
    return document_locale(client.language, business.locale)


def _taxes(taxes: list[dict[str, Any]]) -> str:
    return ", ".join(f"{Decimal(str(t['percent'])).normalize():f} %" for t in taxes)


def _watermark(doc: Document, business: Business, stamp_open: bool) -> str:
    if doc.status == "draft":
        return "draft"
    if doc.kind is not DocumentKind.INVOICE:
        return "void" if doc.status == "void" else ""
    if doc.status == "paid":
        return "paid"
    if doc.status == "void":
        return "void"
    if stamp_open and doc.status in OPEN_STATUSES:
        overdue = is_overdue(doc.due_date, business_today(business), doc.status)
        return "overdue" if overdue else "unpaid"
    return ""


def document_page(
    doc: Document, business: Business, *, stamp_open: bool = False, settled: int | None = None
) -> DocumentPage:
    """The view of one document; ``stamp_open`` adds UNPAID/OVERDUE to open invoices;
    ``settled`` is what was paid and credited on it, when the caller has read that already."""
    locale = locale_for(doc.client, business)
    labels = labels_for(locale)
    fmt = Formatter(locale, doc.currency)
    kind = doc.kind.value
    money = fmt.money
    facts = [
        Row(labels["number"], doc.number or "—"),
        Row(labels["issue_date"], fmt.date(doc.issue_date)),
    ]
    if doc.kind is DocumentKind.INVOICE and doc.due_date:
        facts.append(Row(labels["due_date"], fmt.date(doc.due_date)))
    if doc.kind is DocumentKind.QUOTE and doc.valid_until:
        facts.append(Row(labels["valid_until"], fmt.date(doc.valid_until)))
    credited = ""
    if doc.credited_invoice_id is not None:
        original = db.session.get(Document, doc.credited_invoice_id)
        credited = original.number or "" if original is not None else ""
        facts.append(Row(labels["credits_invoice"], credited))
    if doc.po_number:
        facts.append(Row(labels["po_number"], doc.po_number))
    lines = tuple(
        LineRow(
            description=line.description,
            quantity=fmt.number(line.quantity) + (f" {line.unit}" if line.unit else ""),
            unit_price=fmt.amount(line.unit_price),
            taxes=_taxes(line.taxes),
            amount=money(line.net_minor),
        )
        for line in doc.lines
    )
    totals = [Row(labels["net_total"], money(doc.net_minor))]
    for row in doc.breakdown:
        name = row.get("name") or row.get("category") or labels["tax"]
        percent = f"{Decimal(str(row['percent'])).normalize():f} %"
        base = money(int(row["base_minor"]))
        totals.append(
            Row(f"{name} ({percent} {labels['of']} {base})", money(int(row["tax_minor"])))
        )
    totals.append(Row(labels["total"], money(doc.total_minor), grand=True))
    if doc.rounding_minor:
        totals.append(Row(labels["rounding"], money(doc.rounding_minor)))
    if doc.amount_due_minor != doc.total_minor:
        totals.append(Row(labels["amount_due"], money(doc.amount_due_minor)))
    paid = 0
    if doc.kind is DocumentKind.INVOICE and doc.status != "draft":
        paid = balances.settled_on(doc) if settled is None else settled
        if paid:
            totals.append(Row(labels["paid"], money(-paid)))
        totals.append(Row(labels["balance"], money(doc.balance_minor), grand=True))
    watermark_kind = _watermark(doc, business, stamp_open)
    watermark = (
        labels["draft" if watermark_kind == "draft" else f"{watermark_kind}_stamp"]
        if watermark_kind
        else ""
    )
    values = {
        "number": doc.number or "",
        "title": doc.title,
        "issue_date": fmt.date(doc.issue_date),
        "due_date": fmt.date(doc.due_date),
        "valid_until": fmt.date(doc.valid_until),
        "po_number": doc.po_number,
        "currency": doc.currency,
        "net": money(doc.net_minor),
        "tax": money(doc.tax_minor),
        "total": money(doc.total_minor),
        "amount_due": money(doc.amount_due_minor),
        "balance": money(doc.balance_minor if doc.status != "draft" else doc.amount_due_minor),
        "status": printed_status(doc),
        "credited_invoice": credited,
    }
    seller, buyer = _seller(business), _buyer(doc.client)
    return DocumentPage(
        kind=kind,
        locale=locale,
        lang=locale.replace("_", "-"),
        title=labels[kind],
        number=doc.number or "",
        status=printed_status(doc),
        watermark=watermark,
        watermark_kind=watermark_kind,
        facts=tuple(facts),
        seller=seller,
        buyer=buyer,
        lines=lines,
        totals=tuple(totals),
        notes=doc.notes,
        footer=doc.footer,
        placeholders={
            kind: values,
            "document": values,
            "client": {"name": buyer.name, "email": buyer.email, "tax_id": buyer.tax_id},
            "business": {"name": seller.name, "tax_id": seller.tax_id},
        },
    )


def _bucket(days_late: int) -> str:
    if days_late <= 0:
        return "current"
    if days_late <= 30:
        return "days_1_30"
    if days_late <= 60:
        return "days_31_60"
    if days_late <= 90:
        return "days_61_90"
    return "days_90_plus"


BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "days_90_plus")


def _movements(client: Client) -> list[tuple[date, int, str, int]]:
    """(date, order, text key, signed minor) for every issued movement in the client currency."""
    out: list[tuple[date, int, str, int]] = []
    docs = db.session.scalars(
        select(Document).where(
            Document.client_id == client.id,
            Document.currency == client.currency,
            Document.kind.in_([DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE]),
            Document.status.not_in(["draft", "void", "written_off"]),
            Document.issue_date.is_not(None),
        )
    )
    for doc in docs:
        if doc.issue_date is None:  # excluded by the query; narrows the type
            continue
        if doc.kind is DocumentKind.INVOICE:
            out.append((doc.issue_date, doc.id, f"invoice:{doc.number}", doc.amount_due_minor))
        else:
            out.append((doc.issue_date, doc.id, f"credit_note:{doc.number}", -doc.total_minor))
    payments = db.session.scalars(
        select(Payment).where(Payment.client_id == client.id, Payment.currency == client.currency)
    )
    for payment in payments:
        out.append(
            (payment.received_on, payment.id, f"payment:{payment.reference}", -payment.amount_minor)
        )
    refunds = db.session.scalars(
        select(Refund)
        .join(Payment, Refund.payment_id == Payment.id, isouter=True)
        .join(Document, Refund.credit_note_id == Document.id, isouter=True)
        .where(
            (Payment.client_id == client.id) | (Document.client_id == client.id),
            Refund.currency == client.currency,
        )
    )
    for refund in refunds:
        out.append(
            (refund.refunded_on, refund.id, f"refund:{refund.reference}", refund.amount_minor)
        )
    out.sort(key=lambda m: (m[0], m[2].split(":", 1)[0] != "invoice", m[1]))
    return out


def statement_page(client: Client, business: Business, start: date, end: date) -> StatementPage:
    """Issued documents, payments and refunds from ``start`` to ``end``, with the balance."""
    locale = locale_for(client, business)
    labels = labels_for(locale)
    fmt = Formatter(locale, client.currency)
    opening, running = 0, 0
    rows: list[StatementRow] = []
    moves = _movements(client)
    for day, _, text, minor in moves:
        if day < start:
            opening += minor
            continue
        if day > end:
            continue
        if not rows:
            running = opening
        running += minor
        kind, _, ref = text.partition(":")
        rows.append(
            StatementRow(
                date=fmt.date(day),
                text=f"{labels[kind]} {ref}".strip(),
                charge=fmt.money(minor) if minor > 0 else "",
                credit=fmt.money(-minor) if minor < 0 else "",
                balance=fmt.money(running),
            )
        )
    closing = opening + sum(m for d, _, _, m in moves if start <= d <= end)
    ageing = dict.fromkeys(BUCKETS, 0)
    open_invoices = db.session.scalars(
        select(Document).where(
            Document.client_id == client.id,
            Document.currency == client.currency,
            Document.kind == DocumentKind.INVOICE,
            Document.status.in_([s.value for s in OPEN_STATUSES]),
            Document.issue_date <= end,
        )
    )
    for invoice in open_invoices:
        late = (end - invoice.due_date).days if invoice.due_date else 0
        ageing[_bucket(late)] += invoice.balance_minor
    period = f"{fmt.date(start)} \u2013 {fmt.date(end)}"
    seller, buyer = _seller(business), _buyer(client)
    return StatementPage(
        kind="statement",
        locale=locale,
        lang=locale.replace("_", "-"),
        title=labels["statement"],
        number=f"{client.public_id}-{start.isoformat()}_{end.isoformat()}",
        watermark="",
        watermark_kind="",
        seller=seller,
        buyer=buyer,
        period=period,
        opening=fmt.money(opening),
        rows=tuple(rows),
        ageing=tuple(Row(labels[b], fmt.money(ageing[b])) for b in BUCKETS),
        closing=fmt.money(closing),
        placeholders={
            "statement": {
                "from": fmt.date(start),
                "to": fmt.date(end),
                "opening_balance": fmt.money(opening),
                "closing_balance": fmt.money(closing),
                "currency": client.currency,
            },
            "client": {"name": buyer.name, "email": buyer.email, "tax_id": buyer.tax_id},
            "business": {"name": seller.name, "tax_id": seller.tax_id},
        },
    )


def sample_placeholders(kind: str, business: Business) -> dict[str, View]:
    """Made-up values for checking and previewing a template before any document uses it."""
    locale = document_locale("", business.locale)
    fmt = Formatter(locale, business.base_currency)
    today = business_today(business)
    document = {
        "number": "INV-2026-00042" if kind == "invoice" else "Q-2026-0042",
        "title": "Website redesign",
        "issue_date": fmt.date(today),
        "due_date": fmt.date(today),
        "valid_until": fmt.date(today),
        "po_number": "PO-7",
        "currency": business.base_currency,
        "net": fmt.money(102880),
        "tax": fmt.money(20576),
        "total": fmt.money(123456),
        "amount_due": fmt.money(123456),
        "balance": fmt.money(123456),
        "status": "issued",
        "credited_invoice": "INV-2026-00041",
    }
    values: dict[str, dict[str, str]] = {
        "client": {"name": "Blue Harbor GmbH", "email": "ap@blueharbor.example", "tax_id": ""},
        "business": {"name": business.legal_name, "tax_id": business.tax_id},
    }
    if kind == "statement":
        values["statement"] = {
            "from": fmt.date(today.replace(day=1)),
            "to": fmt.date(today),
            "opening_balance": fmt.money(0),
            "closing_balance": fmt.money(123456),
            "currency": business.base_currency,
        }
    else:
        values[kind] = document
        values["document"] = document
    return {name: View(name, v) for name, v in values.items()}


def printed_status(doc: Document) -> str:
    """The status a PDF shows: sending or opening an invoice changes nothing printed, so it
    must not make a new version of the PDF (emailing it would otherwise render it again)."""
    return "issued" if doc.status in {"sent", "viewed"} else doc.status
