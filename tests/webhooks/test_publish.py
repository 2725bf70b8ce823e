"""Audit records become events, and events become one delivery per listening endpoint."""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.extensions import db as _db
from portal.models import (
    AuditEvent,
    OutboxMessage,
    Role,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from portal.services import documents, webhooks
from portal.services.errors import Forbidden, InvalidInput, NotFound
from portal.services.webhooks import EndpointData
from tests.conftest import Team, make_team
from tests.services import factories
from tests.webhooks.conftest import make_endpoint


def _all(model: Any) -> list[Any]:
    return list(_db.session.scalars(_db.select(model).order_by(model.id)))


def _ints_in(value: Any, path: str = "") -> list[str]:
    """Where an id-like key holds a number, or a key names a database id."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            if key == "id" or key.endswith("_id"):
                found.append(here)
            if key in {"id", "client", "invoice", "source_quote"} and isinstance(item, int):
                found.append(here)
            found += _ints_in(item, here) if key != "id" else []
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _ints_in(item, f"{path}[{i}]")
    return found


def test_issuing_an_invoice_makes_one_delivery_per_listening_endpoint(
    team: Team, db: Any, public_dns: None
) -> None:
    actor = team.actor()
    everything = make_endpoint(team)
    issued_only = make_endpoint(team, url="https://b.example.com/in", events=("invoice.issued",))
    make_endpoint(team, url="https://c.example.com/in", events=("payment.received",))
    make_endpoint(team, url="https://d.example.com/in", enabled=False)
    other = make_team("Other Co")
    make_endpoint(other, url="https://e.example.com/in")
    client = factories.client(actor)
    doc = factories.draft(actor, client)
    before = {e.id for e in _all(WebhookEvent)}

    documents.issue_invoice(actor, doc.public_id)

    (event,) = [e for e in _all(WebhookEvent) if e.id not in before]
    assert event.type == "invoice.issued"
    assert event.business_id == team.business.id
    data = event.data
    assert data["id"] == event.public_id
    assert data["data"]["object"] == "invoice"
    assert data["data"]["id"] == doc.public_id
    assert data["data"]["client"] == client.public_id
    assert data["data"]["number"] == doc.number
    assert data["data"]["status"] == "issued"
    deliveries = [d for d in _all(WebhookDelivery) if d.event_id == event.id]
    assert sorted(d.endpoint_id for d in deliveries) == sorted([everything.id, issued_only.id])
    assert {d.status for d in deliveries} == {"pending"}
    messages = {
        m.key: m
        for m in _all(OutboxMessage)
        if m.kind == webhooks.DELIVER and m.payload["delivery_id"] in {d.id for d in deliveries}
    }
    assert sorted(messages) == sorted(f"webhook-{d.public_id}-1" for d in deliveries)
    assert {m.queue for m in messages.values()} == {"webhooks"}


def test_the_payload_holds_public_ids_only(team: Team, db: Any, public_dns: None) -> None:
    actor = team.actor()
    make_endpoint(team)
    client = factories.client(actor)
    invoice = factories.issued_invoice(actor, client)
    from datetime import date
    from decimal import Decimal

    from portal.services import payments

    payments.record_payment(
        actor,
        payments.PaymentData(
            client_id=client.public_id,
            amount=Decimal(invoice.total_minor) / 100,
            currency=invoice.currency,
            received_on=date(2026, 1, 5),
            allocations=((invoice.public_id, Decimal(invoice.total_minor) / 100),),
        ),
    )
    types = [e.type for e in _all(WebhookEvent)]
    assert types == [
        "client.created",
        "invoice.created",
        "invoice.issued",
        "payment.received",
        "invoice.paid",
    ]
    payment_event = _all(WebhookEvent)[3]
    assert payment_event.data["data"]["allocations"] == [
        {"invoice": invoice.public_id, "amount_minor": invoice.total_minor}
    ]
    for event in _all(WebhookEvent):
        body = event.data
        assert [p for p in _ints_in(body) if not p.endswith(".id")] == []
        # Every "id" is a 26-character public id, never a sequential key.
        for path in _ints_in(body):
            node: Any = body
            for part in path.strip(".").split("."):
                node = node[part]
            assert isinstance(node, str) and len(node) == 26, path
    assert _all(WebhookEvent)[4].data["data"]["status"] == "paid"


def test_events_carry_a_rising_sequence_and_time(team: Team, db: Any, public_dns: None) -> None:
    actor = team.actor()
    make_endpoint(team)
    for n in range(3):
        factories.client(actor, name=f"Client {n}")
    events = _all(WebhookEvent)
    assert [e.data["sequence"] for e in events] == [1, 2, 3]
    stamps = [e.data["timestamp"] for e in events]
    assert stamps == sorted(stamps) and all(s.endswith("Z") for s in stamps)
    # Another business counts on its own.
    other = make_team("Other Co")
    factories.client(other.actor())
    assert _all(WebhookEvent)[-1].data["sequence"] == 1
    page = webhooks.list_events(actor, limit=2)
    assert [e.data["sequence"] for e in page.items] == [3, 2]
    rest = webhooks.list_events(actor, after=page.next_cursor, limit=2)
    assert [e.data["sequence"] for e in rest.items] == [1] and rest.next_cursor is None
    assert webhooks.get_event(actor, events[0].public_id) == events[0]
    with pytest.raises(NotFound):
        webhooks.get_event(other.actor(), events[0].public_id)


def test_endpoint_input_is_checked_and_nothing_is_stored_on_bad_input(
    team: Team, db: Any, app: Any, monkeypatch: pytest.MonkeyPatch, public_dns: None
) -> None:
    actor = team.actor()
    cases = [
        (EndpointData(url="http://hooks.example.com/in"), {"url": "Use an https:// URL."}),
        (EndpointData(url=""), {"url": "Enter the URL that will receive the events."}),
        (
            EndpointData(url="https://10.0.0.1/in"),
            {"url": "The host 10.0.0.1 points at a private address (10.0.0.1); use a public one."},
        ),
        (
            EndpointData(url="ftp://hooks.example.com/in", events=("invoice.eaten",)),
            {"url": "Use an http:// or https:// URL.", "events": "Unknown events: invoice.eaten."},
        ),
    ]
    for data, errors in cases:
        with pytest.raises(InvalidInput) as caught:
            webhooks.create_endpoint(actor, data)
        assert caught.value.errors == errors
    monkeypatch.setitem(app.config, "WEBHOOKS_ALLOW_LOOPBACK", False)
    with pytest.raises(InvalidInput, match=re.escape("points at a loopback address")):
        webhooks.create_endpoint(actor, EndpointData(url="http://127.0.0.1:9000/in"))
    assert _all(WebhookEndpoint) == []


def test_endpoints_are_for_admins_and_every_change_is_audited(
    team: Team, db: Any, public_dns: None
) -> None:
    with pytest.raises(Forbidden):
        webhooks.create_endpoint(
            team.actor(Role.ACCOUNTANT), EndpointData(url="https://a.example.com/")
        )
    with pytest.raises(Forbidden):
        webhooks.list_events(team.actor(Role.STAFF))
    admin = team.actor(Role.ADMIN)
    endpoint = webhooks.create_endpoint(
        admin, EndpointData(url="https://a.example.com/", events=("invoice.paid",))
    )
    assert endpoint.secret.startswith("whsec_")
    webhooks.update_endpoint(
        admin, endpoint.public_id, EndpointData(url="https://b.example.com/", description="ERP")
    )
    old = endpoint.secret
    webhooks.rotate_secret(admin, endpoint.public_id, overlap_hours=2)
    assert endpoint.previous_secret == old and endpoint.secret != old
    with pytest.raises(InvalidInput, match="overlap"):
        webhooks.rotate_secret(admin, endpoint.public_id, overlap_hours=10_000)
    webhooks.delete_endpoint(admin, endpoint.public_id)
    actions = [
        a.action
        for a in _db.session.scalars(
            _db.select(AuditEvent)
            .where(AuditEvent.entity_type == "webhook_endpoint")
            .order_by(AuditEvent.seq)
        )
    ]
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.deleted",
    ]
    audit_text = str([(a.before, a.after) for a in _db.session.scalars(_db.select(AuditEvent))])
    assert old not in audit_text and "whsec_" not in audit_text
    with pytest.raises(NotFound):
        webhooks.get_endpoint(admin, endpoint.public_id)


def test_another_business_cannot_reach_an_endpoint(team: Team, db: Any, public_dns: None) -> None:
    endpoint = make_endpoint(team)
    other = make_team("Other Co").actor()
    for call in (
        lambda: webhooks.get_endpoint(other, endpoint.public_id),
        lambda: webhooks.rotate_secret(other, endpoint.public_id),
        lambda: webhooks.send_test(other, endpoint.public_id),
        lambda: webhooks.deliveries(other, endpoint.public_id),
    ):
        with pytest.raises(NotFound):
            call()
