"""Links: only the hash stored, who may create and revoke them, what opening one says."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import AuditEvent, PortalLink, Role
from portal.models.base import utcnow
from portal.services import client_portal
from portal.services.errors import Forbidden, InvalidInput, NotFound
from portal.services.tokens import token_hash
from tests.client_portal.conftest import Shop, link_to
from tests.conftest import make_team
from tests.services import factories


def test_create_link_stores_only_the_hash_and_audits(shop: Shop) -> None:
    link, token = client_portal.create_link(
        shop.team.actor(Role.STAFF), shop.client.public_id, shop.invoice.public_id, days=7
    )
    assert link.token_hash == token_hash(token)
    assert token not in link.token_hash
    assert link.document_id == shop.invoice.id
    assert timedelta(days=6) < link.expires_at - utcnow() <= timedelta(days=7)
    event = db.session.query(AuditEvent).filter_by(action="portal_link.created").one()
    assert event.entity_id == link.public_id


def test_viewers_cannot_create_links(shop: Shop) -> None:
    with pytest.raises(Forbidden):
        client_portal.create_link(shop.team.actor(Role.VIEWER), shop.client.public_id)


def test_a_draft_cannot_be_shared(shop: Shop) -> None:
    actor = shop.team.actor(Role.STAFF)
    draft = factories.draft(actor, shop.client)
    msg = "Issue the document before sharing a link to it."
    with pytest.raises(InvalidInput, match=re.escape(msg)):
        client_portal.create_link(actor, shop.client.public_id, draft.public_id)


def test_another_business_cannot_link_to_this_client(shop: Shop) -> None:
    other = make_team("Other Co")
    with pytest.raises(NotFound):
        client_portal.create_link(other.actor(Role.STAFF), shop.client.public_id)


def test_open_link_records_last_use(shop: Shop) -> None:
    token = link_to(shop)
    opened = client_portal.open_link(token)
    assert opened.client.id == shop.client.id
    assert opened.document is None
    assert opened.link.last_used_at is not None


def test_open_link_errors(shop: Shop) -> None:
    token = link_to(shop, shop.invoice)
    with pytest.raises(client_portal.LinkInvalid, match=re.escape("This link is not valid.")):
        client_portal.open_link(token[:-1] + ("A" if token[-1] != "A" else "B"))
    link = db.session.query(PortalLink).one()
    link.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(client_portal.LinkExpired, match="expired"):
        client_portal.open_link(token)
    client_portal.revoke_link(shop.team.actor(Role.STAFF), link.public_id)
    with pytest.raises(client_portal.LinkRevoked, match="withdrawn"):
        client_portal.open_link(token)
    assert db.session.query(AuditEvent).filter_by(action="portal_link.revoked").count() == 1


def test_revoke_is_scoped_to_the_business(shop: Shop) -> None:
    link_to(shop)
    link = db.session.query(PortalLink).one()
    other = make_team("Other Co")
    with pytest.raises(NotFound):
        client_portal.revoke_link(other.actor(Role.STAFF), link.public_id)


def test_links_for_lists_the_live_ones(shop: Shop) -> None:
    actor = shop.team.actor(Role.STAFF)
    live, _ = client_portal.create_link(actor, shop.client.public_id)
    gone, _ = client_portal.create_link(actor, shop.client.public_id)
    client_portal.revoke_link(actor, gone.public_id)
    assert client_portal.links_for(actor, shop.client.public_id) == [live]


def test_guessing_links_is_slowed_down(app, client, db, monkeypatch):
    from portal.extensions import limiter

    monkeypatch.setitem(app.config, "PORTAL_RATE_LIMIT", "3 per minute")
    limiter.reset()
    statuses = [client.get(f"/pay/guess-{n}").status_code for n in range(4)]
    limiter.reset()
    assert statuses == [403, 403, 403, 429]


def test_statement_cells_never_start_a_formula():
    from portal.services.client_portal import safe_cell

    assert safe_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert safe_cell("-€12.00") == "'-€12.00"
    assert safe_cell("Invoice INV-1") == "Invoice INV-1"
