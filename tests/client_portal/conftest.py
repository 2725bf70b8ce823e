"""A client with an issued invoice and a sent quote, and links to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from portal.models import Client, Document, DocumentKind, Role
from portal.services import client_portal, quotes
from tests.conftest import Team
from tests.services import factories


@dataclass
class Shop:
    team: Team
    client: Client
    invoice: Document
    other_invoice: Document
    quote: Document


@pytest.fixture
def shop(team: Team) -> Shop:
    actor = team.actor(Role.STAFF)
    client = factories.client(actor, email="ap@blueharbor.example")
    invoice = factories.issued_invoice(actor, client, factories.line(price="100"))
    other = factories.issued_invoice(actor, client, factories.line("Hosting", price="50"))
    quote = factories.draft(
        actor, client, factories.line("Redesign", price="900"), kind=DocumentKind.QUOTE
    )
    quote = quotes.send_quote(actor, quote.public_id)
    return Shop(team, client, invoice, other, quote)


def link_to(shop: Shop, doc: Document | None = None, **kw: Any) -> str:
    actor = shop.team.actor(Role.STAFF)
    _, token = client_portal.create_link(
        actor, shop.client.public_id, doc.public_id if doc is not None else None, **kw
    )
    return token
