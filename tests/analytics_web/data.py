"""Fixed invoicing histories, made through the services people use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from portal.extensions import db
from portal.models import Document, DocumentKind
from portal.services import clients, documents, payments
from portal.services.actors import Actor
from portal.services.clients import ClientData
from portal.services.documents import DraftData, LineData

AS_OF = date(2026, 3, 15)


def invoice(
    actor: Actor,
    client_id: str,
    amount: str,
    on: date,
    rate: str | None = None,
) -> Document:
    draft = documents.create_draft(
        actor,
        DocumentKind.INVOICE,
        DraftData(client_id=client_id, lines=(LineData("Work", Decimal(1), Decimal(amount)),)),
    )
    return documents.issue_invoice(
        actor, draft.public_id, on=on, exchange_rate=Decimal(rate) if rate else None
    )


def stamp(doc: Document, sent: date | None = None, viewed: date | None = None) -> None:
    """When an invoice was sent and opened (noon UTC): the email round trip is not the point."""
    if sent is not None:
        doc.sent_at = datetime(sent.year, sent.month, sent.day, 12, tzinfo=UTC)
        doc.status = "sent" if doc.status == "issued" else doc.status
    if viewed is not None:
        doc.viewed_at = datetime(viewed.year, viewed.month, viewed.day, 12, tzinfo=UTC)
        doc.status = "viewed" if doc.status == "sent" else doc.status
    db.session.commit()


@dataclass
class Fixed:
    """Three clients, five invoices, four payments; see the module's tests for the figures."""

    a: str
    b: str
    c: str
    inv1: Document
    inv2: Document
    inv3: Document
    inv4: Document
    inv5: Document


def fixed_history(actor: Actor) -> Fixed:
    a = clients.create_client(actor, ClientData(name="Alder Ltd", currency="EUR"))
    b = clients.create_client(actor, ClientData(name="Birch GmbH", currency="EUR"))
    c = clients.create_client(actor, ClientData(name="Cedar Inc", currency="USD"))
    inv3 = invoice(actor, b.public_id, "50.00", date(2025, 11, 1))
    inv1 = invoice(actor, a.public_id, "100.00", date(2026, 1, 5))
    stamp(inv1, sent=date(2026, 1, 5), viewed=date(2026, 1, 7))
    # 20.00 more than the invoice: client credit, in January's revenue too.
    payments.pay_invoice(actor, inv1.public_id, Decimal("120.00"), date(2026, 1, 20))
    inv5 = invoice(actor, c.public_id, "100.00", date(2026, 2, 1), rate="0.9")
    stamp(inv5, sent=date(2026, 2, 1), viewed=date(2026, 2, 3))
    inv2 = invoice(actor, a.public_id, "200.00", date(2026, 2, 10))
    stamp(inv2, sent=date(2026, 2, 10))
    payments.pay_invoice(actor, inv5.public_id, Decimal("100.00"), date(2026, 2, 20))
    inv4 = invoice(actor, b.public_id, "80.00", date(2026, 3, 1))
    stamp(inv4, sent=date(2026, 3, 1), viewed=date(2026, 3, 2))
    payments.pay_invoice(actor, inv4.public_id, Decimal("30.00"), date(2026, 3, 5))
    return Fixed(a.public_id, b.public_id, c.public_id, inv1, inv2, inv3, inv4, inv5)


# Days after the due date each client pays: the first always early, the last always late.
DELAYS = {0: (-5, -2), 1: (-1, 3), 2: (10, 25), 3: (20, 40)}


def long_history(actor: Actor, today: date, months: int = 27) -> list[Document]:
    """Four EUR clients invoiced every month for ``months`` months (more before summer and at
    the year's end), paid with each client's habitual delay; the last two months stay open."""
    made = [
        clients.create_client(actor, ClientData(name=f"Client {n}", currency="EUR"))
        for n in range(4)
    ]
    docs: list[Document] = []
    first = date(today.year, today.month, 1)
    season = (0, 8, 9, 11, 10, 11, 12, 7, 6, 10, 11, 13, 12)
    for back in range(months, -1, -1):
        year, month = first.year, first.month - back
        while month < 1:
            month += 12
            year -= 1
        for n, client in enumerate(made):
            day = date(year, month, 3 + 5 * n)
            if day > today:
                continue
            amount = Decimal(100 * (n + 1) * season[month]) + Decimal(months - back)
            doc = invoice(actor, client.public_id, str(amount), day)
            stamp(doc, sent=day, viewed=day + timedelta(days=n + 1) if n % 2 else None)
            docs.append(doc)
            early, late = DELAYS[n]
            delay = early if (back + n) % 2 else late
            assert doc.due_date is not None
            paid_on = doc.due_date + timedelta(days=delay)
            if paid_on <= today - timedelta(days=1) and back > 1:
                payments.pay_invoice(actor, doc.public_id, amount, paid_on)
    return docs
