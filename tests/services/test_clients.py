import re

import pytest
from sqlalchemy import func, select

from portal.models import AuditEvent, Client, Contact, Role
from portal.services import clients
from portal.services.clients import ClientData, ClientFilter, ContactData
from portal.services.errors import Forbidden, InvalidInput, NotFound
from tests.conftest import make_team


def data(**overrides):
    base = {
        "name": "Blue Harbor GmbH",
        "currency": "EUR",
        "email": "Billing@BlueHarbor.example",
        "tags": ("Retainer", "design"),
        "contacts": (
            ContactData("Anna Berg", "anna@blueharbor.example"),
            ContactData("Ben Novak", "ben@blueharbor.example"),
        ),
    }
    return ClientData(**{**base, **overrides})


def test_create_client_stores_contacts_tags_and_an_audit_event(team, db):
    client = clients.create_client(team.actor(Role.STAFF), data())
    assert client.email == "billing@blueharbor.example"
    assert [c.name for c in client.contacts] == ["Anna Berg", "Ben Novak"]
    assert client.primary_contact.name == "Anna Berg"
    assert [t.name for t in client.tags] == ["design", "retainer"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "client.created"))
    assert event.entity_id == client.public_id
    assert event.after["contacts"][1]["email"] == "ben@blueharbor.example"
    assert event.actor_label == team.users[Role.STAFF].email


def test_viewer_cannot_create_a_client(team, db):
    with pytest.raises(Forbidden, match=re.escape("This needs the staff role or higher.")):
        clients.create_client(team.actor(Role.VIEWER), data())
    assert db.session.scalar(select(func.count(Client.id))) == 0


def test_duplicate_email_in_one_business_is_refused_and_nothing_is_written(team, db):
    clients.create_client(team.actor(), data())
    with pytest.raises(InvalidInput) as info:
        clients.create_client(team.actor(), data(name="Other", email="billing@blueharbor.example"))
    assert info.value.errors == {
        "email": "Another client of this business already uses this email."
    }
    assert db.session.scalar(select(func.count(Client.id))) == 1
    assert db.session.scalar(select(func.count(Contact.id))) == 2


def test_the_same_email_is_fine_in_another_business(team, db):
    other = make_team("Other Co")
    clients.create_client(team.actor(), data())
    clients.create_client(other.actor(), data())
    assert db.session.scalar(select(func.count(Client.id))) == 2


def test_bad_currency_and_two_primaries_are_named(team, db):
    with pytest.raises(InvalidInput) as info:
        clients.create_client(
            team.actor(),
            data(
                currency="EURO",
                contacts=(ContactData("A", is_primary=True), ContactData("B", is_primary=True)),
            ),
        )
    assert info.value.errors["currency"] == "'EURO' is not an ISO 4217 currency code."
    assert info.value.errors["contacts"] == ("Only one contact can be the primary billing contact.")


def test_another_business_cannot_see_or_change_the_client(team, db):
    other = make_team("Other Co")
    client = clients.create_client(team.actor(), data())
    with pytest.raises(NotFound):
        clients.get_client(other.actor(), client.public_id)
    with pytest.raises(NotFound):
        clients.archive_client(other.actor(), client.public_id)


def test_update_replaces_contacts_and_keeps_one_primary(team, db):
    client = clients.create_client(team.actor(), data())
    updated = clients.update_client(
        team.actor(),
        client.public_id,
        data(contacts=(ContactData("Ben Novak", is_primary=True), ContactData("Cleo"))),
    )
    assert [(c.name, c.is_primary) for c in updated.contacts] == [
        ("Ben Novak", True),
        ("Cleo", False),
    ]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "client.updated"))
    assert event.before["contacts"][0]["name"] == "Anna Berg"


def test_archive_and_restore_move_the_client_between_lists(team, db):
    actor = team.actor()
    client = clients.create_client(actor, data())
    clients.archive_client(actor, client.public_id)
    assert clients.list_clients(actor, ClientFilter()).items == []
    assert clients.list_clients(actor, ClientFilter(archived=True)).items == [client]
    clients.restore_client(actor, client.public_id)
    assert clients.list_clients(actor, ClientFilter()).items == [client]


def test_search_finds_by_name_email_and_contact_and_filters_by_tag(team, db):
    actor = team.actor()
    clients.create_client(actor, data())
    clients.create_client(
        actor,
        data(name="Cedar & Pine", email="", tags=("agency",), contacts=(ContactData("Zoë"),)),
    )

    def names(**kw):
        return [c.name for c in clients.list_clients(actor, ClientFilter(**kw)).items]

    assert names(q="harbor") == ["Blue Harbor GmbH"]
    assert names(q="BEN@") == ["Blue Harbor GmbH"]
    assert names(q="zoë") == ["Cedar & Pine"]
    assert names(q="100%") == []
    assert names(tag="agency") == ["Cedar & Pine"]


def test_keyset_pages_cover_every_client_once(team, db):
    actor = team.actor()
    for i in range(7):
        clients.create_client(actor, data(name=f"Client {i:02}", email="", contacts=()))
    seen, cursor = [], None
    while True:
        page = clients.list_clients(actor, ClientFilter(), cursor=cursor, limit=3)
        seen += [c.name for c in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"Client {i:02}" for i in range(7)]


def test_a_garbled_cursor_starts_from_the_top(team, db):
    actor = team.actor()
    clients.create_client(actor, data())
    page = clients.list_clients(actor, ClientFilter(), cursor="not-a-cursor!")
    assert [c.name for c in page.items] == ["Blue Harbor GmbH"]
