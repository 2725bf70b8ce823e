"""Factories with defaults plus ``**overrides`` for the invoicing tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from portal.extensions import db
from portal.models import Business, Client, Document, DocumentKind, NotificationChannel, TaxRate
from portal.services import catalogue, clients, documents
from portal.services.actors import Actor
from portal.services.documents import DraftData, LineData


def client(actor: Actor, **overrides: Any) -> Client:
    data = {"name": "Blue Harbor GmbH", "currency": "EUR", **overrides}
    return clients.create_client(actor, clients.ClientData(**data))


def tax_rate(actor: Actor, name: str = "VAT 20%", rate: str = "20", **overrides: Any) -> TaxRate:
    return catalogue.create_tax_rate(
        actor, catalogue.TaxRateData(name=name, rate=Decimal(rate), **overrides)
    )


def line(
    description: str = "Design work", qty: str = "1", price: str = "100", **kw: Any
) -> LineData:
    return LineData(description=description, quantity=Decimal(qty), unit_price=Decimal(price), **kw)


def draft(
    actor: Actor,
    for_client: Client,
    *lines: LineData,
    kind: DocumentKind = DocumentKind.INVOICE,
    **overrides: Any,
) -> Document:
    data = DraftData(client_id=for_client.public_id, lines=lines or (line(),), **overrides)
    return documents.create_draft(actor, kind, data)


def issued_invoice(
    actor: Actor, for_client: Client, *lines: LineData, **overrides: Any
) -> Document:
    doc = draft(actor, for_client, *lines, **overrides)
    return documents.issue_invoice(actor, doc.public_id)


def unheard_channel(business: Business, events: list[str]) -> NotificationChannel:
    """A team channel nobody listens on: what it is told stays in the outbox, pending, as when
    a provider is down, so a test reads the message there. Callers allow loopback targets
    (``NOTIFY_ANY_HOST``)."""
    channel = NotificationChannel(
        business_id=business.id,
        provider="discord",
        name="Team",
        target="http://127.0.0.1:9/api/webhooks/1/token",
        events=events,
    )
    db.session.add(channel)
    db.session.commit()
    return channel
