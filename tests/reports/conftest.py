"""Fixed books for January 2026, made through the services, with every figure worked by hand.

Base currency EUR; one USD per 0.80 EUR (the ECB's 1.25 USD per euro on 2 January).

  INV-1  Blue Harbor  5 Jan  2 x Design 100 (VAT 20 %) + 3 x Books 50 (VAT 10 %)
                             net 350.00  tax 55.00 (40 + 15)  total 405.00 EUR
  TR-1   Blue Harbor 15 Jan  pays 200.00 of INV-1 by bank transfer (a part payment)
  INV-2  Blue Harbor 20 Jan  1 x Design 100: net 100.00  tax 20.00  total 120.00 EUR
  TR-2   Blue Harbor 22 Jan  pays 150.00: 120.00 to INV-2, 30.00 left over
  CN-1   Blue Harbor 25 Jan  credits 1 x Books of INV-1: net 50.00  tax 5.00  total 55.00
  RF-1   Blue Harbor 30 Jan  the 30.00 left of TR-2 paid back
  INV-3  Acme Inc    10 Jan  4 x Design 250 USD (VAT 20 %): net 1,000  tax 200  total 1,200 USD
                             rate fixed at issue 0.8 -> net 800.00 EUR
  ch_1   Acme Inc    28 Jan  pays 1,200.00 USD through stripe, fee 35.10 USD
  INV-4  Blue Harbor  3 Feb  1 x Books 50: net 50.00  tax 5.00  total 55.00 EUR (February)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from portal.extensions import db as _db
from portal.models import Client, Document, DocumentKind, ExchangeRate
from portal.services import catalogue, credit_notes, documents, payments
from portal.services.actors import Actor
from portal.services.catalogue import ProductData
from portal.services.documents import DraftData, LineData
from portal.services.payments import PaymentData
from portal.services.reports.tables import Period
from tests.conftest import Team
from tests.services import factories as f

JANUARY = Period(date(2026, 1, 1), date(2026, 1, 31))
FEBRUARY = Period(date(2026, 2, 1), date(2026, 2, 28))


@dataclass
class Books:
    actor: Actor
    blue: Client
    acme: Client
    inv1: Document
    inv2: Document
    inv3: Document
    inv4: Document
    cn1: Document


def _invoice(actor: Actor, client: Client, day: date, *lines: LineData) -> Document:
    draft = documents.create_draft(
        actor, DocumentKind.INVOICE, DraftData(client_id=client.public_id, lines=lines)
    )
    return documents.issue_invoice(actor, draft.public_id, on=day)


def make_books(team: Team) -> Books:
    actor = team.actor()
    _db.session.add(
        ExchangeRate(currency="USD", rate_date=date(2026, 1, 2), per_euro=Decimal("1.25"))
    )
    _db.session.commit()
    vat20 = f.tax_rate(actor, "VAT 20%", "20")
    vat10 = f.tax_rate(actor, "VAT 10%", "10")
    design = catalogue.create_product(
        actor,
        ProductData(
            name="Design", unit_price=Decimal(100), currency="EUR", tax_rate_ids=(vat20.public_id,)
        ),
    )
    books = catalogue.create_product(
        actor,
        ProductData(
            name="Books", unit_price=Decimal(50), currency="EUR", tax_rate_ids=(vat10.public_id,)
        ),
    )

    def design_line(qty: str, price: str = "100") -> LineData:
        return f.line(
            "Design", qty, price, product_id=design.public_id, tax_rate_ids=(vat20.public_id,)
        )

    def books_line(qty: str) -> LineData:
        return f.line(
            "Books", qty, "50", product_id=books.public_id, tax_rate_ids=(vat10.public_id,)
        )

    blue = f.client(actor, name="Blue Harbor GmbH", email="ap@blue.example")
    acme = f.client(actor, name="Acme Inc", currency="USD", email="ap@acme.example")
    inv1 = _invoice(actor, blue, date(2026, 1, 5), design_line("2"), books_line("3"))
    inv3 = _invoice(actor, acme, date(2026, 1, 10), design_line("4", "250"))
    payments.record_payment(
        actor,
        PaymentData(
            client_id=blue.public_id,
            amount=Decimal(200),
            currency="EUR",
            received_on=date(2026, 1, 15),
            reference="TR-1",
            allocations=((inv1.public_id, Decimal(200)),),
        ),
    )
    inv2 = _invoice(actor, blue, date(2026, 1, 20), design_line("1"))
    tr2 = payments.record_payment(
        actor,
        PaymentData(
            client_id=blue.public_id,
            amount=Decimal(150),
            currency="EUR",
            received_on=date(2026, 1, 22),
            reference="TR-2",
            allocations=((inv2.public_id, Decimal(120)),),
        ),
    )
    note = credit_notes.create_credit_note(actor, inv1.public_id, lines=((1, Decimal(1)),))
    cn1 = credit_notes.issue_credit_note(actor, note.public_id, on=date(2026, 1, 25))
    payments.record_payment(
        actor,
        PaymentData(
            client_id=acme.public_id,
            amount=Decimal(1200),
            currency="USD",
            received_on=date(2026, 1, 28),
            method="card",
            reference="ch_1",
            allocations=((inv3.public_id, Decimal(1200)),),
            provider="stripe",
            provider_payment_id="pi_1",
            fee_minor=3510,
        ),
    )
    payments.refund_payment(actor, tr2.public_id, Decimal(30), date(2026, 1, 30), "RF-1")
    inv4 = _invoice(actor, blue, date(2026, 2, 3), books_line("1"))
    return Books(actor, blue, acme, inv1, inv2, inv3, inv4, cn1)


@pytest.fixture
def books(team: Team, app: Any) -> Books:
    with app.test_request_context():
        return make_books(team)
