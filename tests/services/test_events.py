"""Business events reach the team's channels: the outbox holds one message per channel."""

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from portal.models import NotificationChannel, OutboxMessage, Role
from portal.services import payments, quotes
from tests.services import factories as f


def _channel(team, events):
    channel = NotificationChannel(
        business_id=team.business.id,
        provider="discord",
        name="Team",
        # Nothing listens here: the message is kept, pending, as when a provider is down.
        target="http://127.0.0.1:9/api/webhooks/1/token",
        events=events,
    )
    return channel


def test_a_payment_that_settles_an_invoice_tells_the_channel(team, db, app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_ANY_HOST", True)
    db.session.add(_channel(team, ["invoice.paid"]))
    db.session.commit()
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
    db.session.add(_channel(team, ["quote.accepted"]))
    db.session.commit()
    actor = team.actor(Role.STAFF)
    from portal.models import DocumentKind

    quote = f.draft(actor, f.client(actor), kind=DocumentKind.QUOTE)
    quotes.send_quote(actor, quote.public_id)
    quotes.accept_quote(actor, quote.public_id, "Ana")
    (message,) = db.session.scalars(select(OutboxMessage)).all()
    assert message.key.endswith(f"quote.accepted-{quote.public_id}")
