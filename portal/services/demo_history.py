"""Two years of the demo business's history, made through the same services people use.

Clients pay in character: some early, some a few weeks late, a few not at all, so dashboards
built later have something true to show.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from portal.billing.money import Money
from portal.extensions import db
from portal.models import Client, Document, DocumentKind, Product
from portal.services import credit_notes, documents, payments, quotes, recurring
from portal.services.actors import Actor
from portal.services.documents import DraftData, LineData

MONTHS = 24
# Units of the base currency (EUR) per unit of the invoice currency, drifting gently.
BASE_RATES = {"USD": Decimal("0.92"), "GBP": Decimal("1.17")}


@dataclass(frozen=True, slots=True)
class Payer:
    """How a client pays: days after the due date (negative: early), and how often never."""

    mean_delay: int
    spread: int
    never: float


PAYERS = (
    Payer(-3, 3, 0.0),  # always on time
    Payer(-1, 4, 0.0),
    Payer(12, 8, 0.02),  # a little late
    Payer(30, 15, 0.05),  # late
    Payer(55, 25, 0.25),  # chronically late, sometimes never
)


def _months_back(today: date, n: int) -> date:
    year, month = today.year, today.month - n
    while month < 1:
        month += 12
        year -= 1
    return date(year, month, 1)


def history_exists(actor: Actor) -> bool:
    return (
        db.session.scalar(
            select(Document.id)
            .where(Document.business_id == actor.business.id, Document.kind == DocumentKind.INVOICE)
            .limit(1)
        )
        is not None
    )


def plan_invoices(
    clients: list[Client], today: date, rng: random.Random, months: int = MONTHS
) -> list[tuple[date, Client]]:
    """Which client gets an invoice on which day, oldest first; busier before the summer and
    at the year's end so seasonality has a shape."""
    season = {
        1: 0.8,
        2: 0.9,
        3: 1.1,
        4: 1.0,
        5: 1.1,
        6: 1.2,
        7: 0.7,
        8: 0.6,
        9: 1.0,
        10: 1.1,
        11: 1.3,
        12: 1.2,
    }
    plan: list[tuple[date, Client]] = []
    for back in range(months, -1, -1):
        first = _months_back(today, back)
        count = round(22 * season[first.month] * (1 + (months - back) / 48))
        for _ in range(count):
            day = first + timedelta(days=rng.randrange(0, 28))
            if day <= today:
                plan.append((day, rng.choice(clients)))
    plan.sort(key=lambda item: item[0])
    return plan


def seed_history(
    actor: Actor,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
    planned: Callable[[int], None] | None = None,
    months: int = MONTHS,
) -> int:
    """Create the history once; returns how many invoices were made.

    ``planned`` hears the number of invoices before the first is made (for a progress bar).
    """
    if history_exists(actor):
        return 0
    today = today or date.today()
    rng = random.Random(24)  # noqa: S311 - repeatable demo data, not security
    clients = list(
        db.session.scalars(
            select(Client).where(Client.business_id == actor.business.id).order_by(Client.id)
        )
    )
    products = list(
        db.session.scalars(
            select(Product).where(Product.business_id == actor.business.id).order_by(Product.id)
        )
    )
    payer = {c.id: PAYERS[i % len(PAYERS)] for i, c in enumerate(clients)}
    plan = plan_invoices(clients, today, rng, months)
    if planned is not None:
        planned(len(plan))
    euro_clients = [c for c in clients if c.currency == "EUR"]
    _schedules(actor, euro_clients[:3], products, _months_back(today, min(months, 12)))
    for day, client in plan:
        # Recurring invoices fall due in date order with the rest, so numbers follow dates.
        for doc in recurring.run_due_schedules(actor.business, day):
            _pay(actor, doc, payer[doc.client_id], today, rng)
        lines = _lines(products, client.currency, rng)
        roll = rng.random()
        if roll < 0.08 and client.currency == "EUR":
            _quote(actor, client, lines, day, today, rng, payer[client.id])
        else:
            doc = _invoice(actor, client, lines, day, rng)
            if roll > 0.97 and client.currency == "EUR":
                _credit(actor, doc)
            _pay(actor, doc, payer[client.id], today, rng)
        if progress is not None:
            progress(1)
    for doc in recurring.run_due_schedules(actor.business, today):
        _pay(actor, doc, payer[doc.client_id], today, rng)
    quotes.expire_quotes(actor, today)
    return len(plan)


def _lines(products: list[Product], currency: str, rng: random.Random) -> tuple[LineData, ...]:
    return tuple(
        LineData(
            description=p.name,
            quantity=Decimal(rng.choice((1, 1, 2, 3, 5, 8, 10, 20))),
            unit_price=_price(p, currency),
            unit=p.unit,
            product_id=p.public_id,
            tax_rate_ids=tuple(r.public_id for r in p.tax_rates),
        )
        for p in rng.sample(products, rng.randint(1, 3))
    )


def _invoice(
    actor: Actor, client: Client, lines: tuple[LineData, ...], day: date, rng: random.Random
) -> Document:
    draft = documents.create_draft(
        actor, DocumentKind.INVOICE, DraftData(client_id=client.public_id, lines=lines)
    )
    rate = None
    if client.currency in BASE_RATES:
        drift = Decimal(rng.randint(-30, 30)) / Decimal(1000)
        rate = BASE_RATES[client.currency] + drift
    return documents.issue_invoice(actor, draft.public_id, on=day, exchange_rate=rate)


def _quote(
    actor: Actor,
    client: Client,
    lines: tuple[LineData, ...],
    day: date,
    today: date,
    rng: random.Random,
    payer: Payer,
) -> None:
    """Most quotes are accepted and invoiced the day they are sent; some are declined, and
    the rest wait until they expire."""
    roll = rng.random()
    # Only the quotes left waiting carry a validity, so that they expire; the others are
    # decided on the day (accepting checks validity against today's date).
    valid_until = day + timedelta(30) if roll >= 0.8 else None
    data = DraftData(client_id=client.public_id, lines=lines, valid_until=valid_until)
    quote = documents.create_draft(actor, DocumentKind.QUOTE, data)
    quotes.send_quote(actor, quote.public_id, on=day)
    if roll < 0.6:
        quotes.accept_quote(actor, quote.public_id, "Demo client")
        draft = quotes.convert_quote(actor, quote.public_id)
        doc = documents.issue_invoice(actor, draft.public_id, on=day)
        _pay(actor, doc, payer, today, rng)
    elif roll < 0.8:
        quotes.decline_quote(actor, quote.public_id, "Chose another supplier")


def _credit(actor: Actor, doc: Document) -> None:
    """One unit of the first line comes back: a partial credit note, applied at once."""
    note = credit_notes.create_credit_note(
        actor, doc.public_id, ((0, Decimal(1)),), reason="One item returned"
    )
    credit_notes.issue_credit_note(actor, note.public_id, on=doc.issue_date)


def _schedules(actor: Actor, clients: list[Client], products: list[Product], start: date) -> None:
    retainer = next((p for p in products if "retainer" in p.name.lower()), products[0])
    for offset, client in enumerate(clients):
        recurring.create_schedule(
            actor,
            recurring.ScheduleData(
                client_id=client.public_id,
                lines=(
                    LineData(
                        description=retainer.name,
                        quantity=Decimal(1),
                        unit_price=_price(retainer, client.currency),
                        unit=retainer.unit,
                        tax_rate_ids=tuple(r.public_id for r in retainer.tax_rates),
                    ),
                ),
                frequency="monthly",
                day_of_month=1 + offset * 7,
                start_date=start,
                auto_send=True,
            ),
        )


def _price(product: Product, currency: str) -> Decimal:
    amount = Money(product.unit_price_minor, product.currency).to_decimal()
    if currency in BASE_RATES:
        amount = (amount / BASE_RATES[currency]).quantize(Decimal("1"))
    return amount


def _pay(actor: Actor, doc: Document, payer: Payer, today: date, rng: random.Random) -> None:
    if doc.due_date is None or rng.random() < payer.never:
        return
    delay = round(rng.gauss(payer.mean_delay, payer.spread))
    paid_on = doc.due_date + timedelta(days=delay)
    if paid_on > today:
        return
    if rng.random() < 0.1:
        # A part first, the rest a fortnight later (if that has happened yet).
        half = Money(doc.amount_due_minor // 2, doc.currency).to_decimal()
        payments.pay_invoice(actor, doc.public_id, half, paid_on, method="bank_transfer")
        paid_on += timedelta(days=14)
        if paid_on > today:
            return
    rest = Money(doc.balance_minor, doc.currency).to_decimal()
    if rest > 0:
        method = rng.choice(("bank_transfer", "bank_transfer", "card", "direct_debit"))
        payments.pay_invoice(actor, doc.public_id, rest, paid_on, method=method)
