"""A client who opted out of tracking: no open pixel, no view times, from mail or the portal."""

from __future__ import annotations

import re

import pytest

from portal.extensions import db as _db
from portal.models import Delivery, Document, Role
from portal.services import client_portal, delivery, gdpr
from portal.services.errors import Forbidden
from tests.services import factories as f


@pytest.fixture
def invoice(team):
    owner = team.actor()
    customer = f.client(owner, name="Private Person", email="private@person.example")
    return f.issued_invoice(owner, customer, f.line("Advice", "1", "90"))


def _html(inbox) -> str:
    return inbox.deliveries[-1].message.get_body(("html",)).get_content()


def test_a_tracked_clients_email_has_the_pixel(team, invoice, inbox):
    delivery.send_invoice(team.actor(), invoice.public_id)
    assert re.search(r'src="http://[^"]+/t/[^"]+\.gif"', _html(inbox))


def test_an_opted_out_clients_email_has_no_pixel_and_opens_are_not_recorded(
    client, team, invoice, inbox
):
    gdpr.set_tracking_opt_out(team.actor(Role.STAFF), invoice.client.public_id, True)
    sent = delivery.send_invoice(team.actor(), invoice.public_id)
    assert "/t/" not in _html(inbox)
    # Even a pixel URL made by hand (an old email) records nothing.
    assert client.get(f"/t/{delivery.pixel_token(sent)}.gif").status_code == 200
    _db.session.expire_all()
    assert _db.session.get(Delivery, sent.id).opened_at is None
    doc = _db.session.get(Document, invoice.id)
    assert (doc.viewed_at, doc.status) == (None, "sent")


def test_a_portal_visit_of_an_opted_out_client_records_no_view(client, team, invoice):
    gdpr.set_tracking_opt_out(team.actor(Role.STAFF), invoice.client.public_id, True)
    _, token = client_portal.create_link(team.actor(), invoice.client.public_id, invoice.public_id)
    assert client.get(f"/pay/{token}").status_code == 200
    _db.session.expire_all()
    assert _db.session.get(Document, invoice.id).viewed_at is None


def test_a_portal_visit_of_a_tracked_client_records_the_view(client, team, invoice):
    _, token = client_portal.create_link(team.actor(), invoice.client.public_id, invoice.public_id)
    assert client.get(f"/pay/{token}").status_code == 200
    _db.session.expire_all()
    assert _db.session.get(Document, invoice.id).viewed_at is not None


def test_viewers_may_not_switch_tracking(team, invoice):
    with pytest.raises(Forbidden):
        gdpr.set_tracking_opt_out(team.actor(Role.VIEWER), invoice.client.public_id, True)
