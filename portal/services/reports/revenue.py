"""Revenue (net of tax) by client and by product, converted to the business's base currency.

An invoice in another currency converts at the rate stored on it when it was issued (a credit
note carries its invoice's rate); only a document issued without one falls back to the stored
ECB rates on or before its issue date. Each document's amount is converted and rounded on its
own, half up, then added: the Data sheet shows every conversion and the rate it used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, func, select

from portal.billing.money import Money
from portal.extensions import db
from portal.models import Business, Client, Document, DocumentKind, DocumentLine, Product
from portal.services.errors import InvalidInput
from portal.services.rates import rate_to_base
from portal.services.reports.tables import Cell, Column, Period, Report, Sheet, money

CLIENT_SLUG = "revenue-by-client"
PRODUCT_SLUG = "revenue-by-product"
NOT_COUNTED = ("draft", "void")
NO_PRODUCT = "(no product)"


@dataclass(frozen=True, slots=True)
class Rate:
    value: Decimal | None
    source: str  # "same currency", "fixed at issue", "ECB on or before 2026-01-10", "missing"


def _rate(
    currency: str, base: str, stored: Decimal | None, day: date, cache: dict[object, Rate]
) -> Rate:
    if currency == base:
        return Rate(Decimal(1), "same currency")
    if stored is not None:
        return Rate(Decimal(stored), "fixed at issue")
    key = (currency, day)
    if key not in cache:
        try:
            cache[key] = Rate(
                rate_to_base(currency, base, day), f"ECB on or before {day.isoformat()}"
            )
        except InvalidInput:
            cache[key] = Rate(None, "missing")
    return cache[key]


def _convert(amount: Money, rate: Rate, base: str) -> Money | None:
    if rate.value is None:
        return None
    return Money.from_decimal(amount.to_decimal() * rate.value, base)


def _documents(business: Business, period: Period) -> Select:
    return select(Document).where(
        Document.business_id == business.id,
        Document.kind.in_([DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE]),
        Document.status.not_in(NOT_COUNTED),
        Document.issue_date >= period.start,
        Document.issue_date <= period.end,
    )


def count_by_client(business: Business, period: Period) -> int:
    stmt = _documents(business, period).with_only_columns(func.count(Document.id))
    return int(db.session.scalar(stmt) or 0)


def count_by_product(business: Business, period: Period) -> int:
    stmt = (
        _documents(business, period)
        .with_only_columns(func.count(DocumentLine.id))
        .join(DocumentLine, DocumentLine.document_id == Document.id)
    )
    return int(db.session.scalar(stmt) or 0)


def _columns(what: str, label: str, base: str) -> tuple[Column, ...]:
    return (
        Column(what, label),
        Column("currency", "Currency"),
        Column("net", "Net", "money"),
        Column("net_base", f"Net in {base}", "money"),
    )


def _data_columns(what: str, label: str, base: str) -> tuple[Column, ...]:
    return (
        Column("date", "Issue date", "date"),
        Column("document", "Document"),
        Column("kind", "Kind"),
        Column(what, label),
        Column("currency", "Currency"),
        Column("net", "Net", "money"),
        Column("rate", f"Rate to {base}", "rate"),
        Column("rate_source", "Rate source"),
        Column("net_base", f"Net in {base}", "money"),
    )


# One converted amount: (issue date, number, kind, group name, currency, net, rate, converted)
Entry = tuple[date, str, str, str, str, Money, Rate, Money | None]


def _report(
    slug: str,
    title: str,
    what: str,
    label: str,
    business: Business,
    period: Period,
    entries: list[Entry],
) -> Report:
    base = business.base_currency
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    missing: set[tuple[str, str]] = set()
    data: list[tuple[Cell, ...]] = []
    used: dict[tuple[str, Decimal | None, str], list[str]] = defaultdict(list)
    for day, number, kind, name, cur, net, rate, converted in entries:
        entry = sums[(name, cur)]
        entry[0] += net.minor
        if converted is None:
            missing.add((name, cur))
        else:
            entry[1] += converted.minor
        if cur != base:
            numbers = used[(cur, rate.value, rate.source)]
            if number not in numbers:
                numbers.append(number)
        data.append((day, number, kind, name, cur, net, rate.value, rate.source, converted))
    rows = [
        (
            name,
            cur,
            money(net_minor, cur),
            None if (name, cur) in missing else money(base_minor, base),
        )
        for (name, cur), (net_minor, base_minor) in sorted(sums.items())
    ]
    per_currency: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_, cur), (net_minor, base_minor) in sums.items():
        per_currency[cur][0] += net_minor
        per_currency[cur][1] += base_minor
    totals: list[tuple[Cell, ...]] = [
        (f"Total {cur}", cur, money(net_minor, cur), money(base_minor, base))
        for cur, (net_minor, base_minor) in sorted(per_currency.items())
    ]
    totals.append(
        (f"Total in {base}", base, None, money(sum(c for _, c in per_currency.values()), base))
    )
    notes = [
        f"Net of tax; credit notes count against the period they were issued in. Amounts in "
        f"other currencies are converted to {base}.",
    ]
    for (cur, value, source), numbers in sorted(used.items(), key=lambda i: (i[0][0], i[0][2])):
        more = f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
        shown = ", ".join(numbers[:5]) + more
        if value is None:
            notes.append(f"{cur}: no exchange rate stored for {shown}; left out of {base} totals.")
        else:
            notes.append(f"{cur} → {base} at {value.normalize():f} ({source}): {shown}.")
    return Report(
        slug=slug,
        title=title,
        period=period,
        sheet=Sheet(_columns(what, label, base), tuple(rows)),
        totals=tuple(totals),
        data=Sheet(_data_columns(what, label, base), tuple(data)),
        notes=tuple(notes),
    )


def _entries(
    business: Business,
    period: Period,
    rows: Select,
    group: Callable[[object], str],
) -> list[Entry]:
    base = business.base_currency
    cache: dict[object, Rate] = {}
    out: list[Entry] = []
    for day, number, kind, stored, cur, net, name in db.session.execute(rows):
        credit = kind is DocumentKind.CREDIT_NOTE
        amount = money(-net if credit else net, cur)
        rate = _rate(cur, base, stored, day, cache)
        out.append(
            (
                day,
                number or "",
                "credit note" if credit else "invoice",
                group(name),
                cur,
                amount,
                rate,
                _convert(amount, rate, base),
            )
        )
    return out


def by_client(business: Business, period: Period) -> Report:
    stmt = (
        _documents(business, period)
        .with_only_columns(
            Document.issue_date,
            Document.number,
            Document.kind,
            Document.exchange_rate,
            Document.currency,
            Document.net_minor,
            Client.name,
        )
        .join(Client, Client.id == Document.client_id)
        .order_by(Document.issue_date, Document.kind, Document.number, Document.id)
    )
    entries = _entries(business, period, stmt, str)
    return _report(CLIENT_SLUG, "Revenue by client", "client", "Client", business, period, entries)


def by_product(business: Business, period: Period) -> Report:
    """Per line: a line's net is before document-level discounts and charges."""
    stmt = (
        _documents(business, period)
        .with_only_columns(
            Document.issue_date,
            Document.number,
            Document.kind,
            Document.exchange_rate,
            Document.currency,
            DocumentLine.net_minor,
            Product.name,
        )
        .join(DocumentLine, DocumentLine.document_id == Document.id)
        .outerjoin(Product, Product.id == DocumentLine.product_id)
        .order_by(Document.issue_date, Document.kind, Document.number, DocumentLine.position)
    )
    entries = _entries(business, period, stmt, lambda name: str(name) if name else NO_PRODUCT)
    return _report(
        PRODUCT_SLUG, "Revenue by product", "product", "Product", business, period, entries
    )
