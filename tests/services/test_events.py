"""Business events reach the team's channels: the outbox holds one message per channel."""

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal.models import OutboxMessage, Role
from portal.services import payments, quotes
from tests.services import factories as f


def test_a_payment_that_settles_an_invoice_tells_the_channel(team, db, app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_ANY_HOST", True)
    f.unheard_channel(team.business, ["invoice.paid"])
    actor = team.actor(Role.ACCOUNTANT)
    doc = f.issued_invoice(team.actor(), f.client(team.actor()), f.line(price="100"))
    payments.pay_invoice(actor, doc.public_id, Decimal("40"), date(2026, 4, 1))
    assert db.session.scalars(select(OutboxMessage)).all() == []
    payments.pay_invoice(actor, doc.public_id, Decimal("60"), date(2026, 4, 2))
    (message,) = db.session.scalars(select(OutboxMessage)).all()
    assert message.kind == "notify.channel"
    assert message.key.endswith(f"invoice.paid-{doc.public_id}")
    assert message.payload["title"] == f"Invoice {doc.number} paid"


def test_an_accepted_quote_tells_the_channel(team, db, app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_ANY_HOST", True)
    f.unheard_channel(team.business, ["quote.accepted"])
    actor = team.actor(Role.STAFF)
    from portal.models import DocumentKind

    quote = f.draft(actor, f.client(actor), kind=DocumentKind.QUOTE)
    quotes.send_quote(actor, quote.public_id)
    quotes.accept_quote(actor, quote.public_id, "Ana")
    (message,) = db.session.scalars(select(OutboxMessage)).all()
    assert message.key.endswith(f"quote.accepted-{quote.public_id}")
