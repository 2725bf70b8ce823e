"""A client's data exported as a ZIP, erased with the accounting kept, tracking off, purged."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pypdf import PdfReader
from sqlalchemy import inspect, text

from integrations.webhooks import Answer
from portal.extensions import db as _db
from portal.jobs import webhooks as webhook_jobs
from portal.models import (
    AuditEvent,
    Delivery,
    Document,
    DocumentKind,
    IdempotencyRecord,
    Job,
    OutboxMessage,
    PortalLink,
    ProviderEvent,
    Role,
    SavedPaymentMethod,
    WebhookDelivery,
    WebhookEvent,
)
from portal.services import (
    api_keys,
    audit,
    client_portal,
    clients,
    delivery,
    gdpr,
    jobs,
    notifications,
    outbox,
    payments,
    quotes,
    webhooks,
)
from portal.services.clients import ContactData
from portal.services.errors import Forbidden, InvalidInput
from tests.conftest import make_team
from tests.services import factories as f

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "integrations/schemas/share-envelope-v1.json").read_text()
)
PERSONAL = ("Ada Lovelace", "ada@blue.example", "+44 20 7946 0000", "12 Harbour Road", "VIP")


@pytest.fixture
def customer(team):
    owner = team.actor()
    client = f.client(
        owner,
        name="Blue Harbor",
        email="billing@blue.example",
        phone="+44 20 7946 0000",
        tax_id="GB123456789",
        notes="VIP, call before delivery",
        billing_line1="12 Harbour Road",
        billing_city="Bristol",
        billing_country="GB",
        tags=("vip",),
        contacts=(ContactData("Ada Lovelace", "ada@blue.example", "+44 20 7946 0000", True),),
    )
    paid = f.issued_invoice(owner, client, f.line("Design", "2", "150"))
    payments.pay_invoice(owner, paid.public_id, Decimal("300"), date(2026, 1, 5))
    open_one = f.issued_invoice(owner, client, f.line("Hosting", "1", "80"))
    quote = f.draft(owner, client, f.line("Audit", "1", "500"), kind=DocumentKind.QUOTE)
    quotes.send_quote(owner, quote.public_id)
    f.draft(owner, client, f.line("Not issued", "1", "1"))
    return {"client": client, "paid": paid, "open": open_one, "quote": quote}


def _zip(actor, client) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(gdpr.export_client_bytes(actor, client.public_id)))


def test_the_export_holds_a_valid_envelope_and_one_pdf_per_issued_document(team, customer):
    other = make_team("Other Co")
    f.issued_invoice(other.actor(), f.client(other.actor(), name="Stranger Ltd"))
    stranger = f.client(team.actor(), name="Green Field", email="green@field.example")
    f.issued_invoice(team.actor(), stranger, f.line("Green work", "1", "10"))

    archive = _zip(team.actor(Role.ACCOUNTANT), customer["client"])
    names = sorted(archive.namelist())
    assert "README.txt" in names and "client.json" in names
    envelope = json.loads(archive.read("client.json"))
    assert list(Draft202012Validator(SCHEMA).iter_errors(envelope)) == []
    items = envelope["payload"]["items"]
    assert [i["type"] for i in items] == ["client", "invoice", "invoice", "payments"]
    client_item = items[0]["payload"]
    assert client_item["contacts"][0]["email"] == "ada@blue.example"
    assert client_item["notes"] == "VIP, call before delivery"
    numbers = {customer["paid"].number, customer["open"].number}
    assert {i["payload"]["number"] for i in items[1:3]} == numbers
    assert [p["amount"]["minor"] for p in items[3]["payload"]["payments"]] == [30000]

    pdfs = [n for n in names if n.startswith("documents/")]
    assert len(pdfs) == 3  # two invoices and the sent quote; the draft has no number
    expected = numbers | {customer["quote"].number}
    found = set()
    for name in pdfs:
        reader = PdfReader(io.BytesIO(archive.read(name)))
        page_text = "".join(p.extract_text() for p in reader.pages)
        found |= {n for n in expected if n in page_text}
    assert found == expected
    everything = b"".join(archive.read(n) for n in names)
    assert b"Stranger" not in everything and b"Green" not in everything


def test_viewers_and_staff_may_not_export(team, customer):
    with pytest.raises(Forbidden):
        gdpr.export_client_bytes(team.actor(Role.STAFF), customer["client"].public_id)


def _raw_client(client_id: int) -> dict:
    row = _db.session.execute(text("SELECT * FROM clients WHERE id = :id"), {"id": client_id})
    return dict(row.mappings().one())


def test_erasure_needs_the_typed_name_and_a_reason_while_invoices_are_open(team, customer):
    admin = team.actor(Role.ADMIN)
    public_id = customer["client"].public_id
    with pytest.raises(InvalidInput, match=re.escape("Type the client's name exactly")):
        gdpr.erase_client(admin, public_id, "blue harbor")
    with pytest.raises(InvalidInput) as refused:
        gdpr.erase_client(admin, public_id, "Blue Harbor")
    assert refused.value.errors["force_reason"].startswith("This client has 1 open invoice.")
    with pytest.raises(Forbidden):
        gdpr.erase_client(team.actor(Role.ACCOUNTANT), public_id, "Blue Harbor", "asked")
    _db.session.expire_all()
    assert _raw_client(customer["client"].id)["erased_at"] is None


def test_erasure_keeps_the_accounting_and_leaves_no_personal_data(team, customer):
    owner = team.actor()
    client = customer["client"]
    _, _token = client_portal.create_link(owner, client.public_id)
    sent = delivery.send_invoice(owner, customer["open"].public_id)
    delivery.record_view(customer["open"])
    _db.session.add(
        SavedPaymentMethod(
            business_id=team.business.id,
            client_id=client.id,
            provider="stripe",
            customer_id="cus_1",
            payment_method_id="pm_1",
            label="Visa •••• 4242",
        )
    )
    _db.session.commit()
    before = {
        d.number: (d.total_minor, d.tax_minor, d.balance_minor, d.status)
        for d in _db.session.query(Document).filter(Document.client_id == client.id)
    }

    gdpr.erase_client(owner, client.public_id, "Blue Harbor", "Client asked; debt written off")
    _db.session.expire_all()

    after = {
        d.number: (d.total_minor, d.tax_minor, d.balance_minor, d.status)
        for d in _db.session.query(Document).filter(Document.client_id == client.id)
    }
    assert after == before
    row = _raw_client(client.id)
    assert row["name"] == f"Erased client {client.public_id[-8:]}"
    assert row["erased_at"] is not None and row["email"] is None
    blob = json.dumps({k: str(v) for k, v in row.items()})
    for value in (*PERSONAL, "billing@blue.example", "GB123456789", "Bristol"):
        assert value not in blob
    assert (
        _db.session.execute(
            text("SELECT count(*) FROM contacts WHERE client_id = :id"), {"id": client.id}
        ).scalar()
        == 0
    )
    assert (
        _db.session.execute(
            text("SELECT count(*) FROM client_tags WHERE client_id = :id"), {"id": client.id}
        ).scalar()
        == 0
    )
    links = _db.session.query(PortalLink).filter(PortalLink.client_id == client.id).all()
    assert links and all(link.revoked_at is not None for link in links)
    with pytest.raises(client_portal.LinkRevoked):
        client_portal.open_link(_token)
    card = _db.session.query(SavedPaymentMethod).one()
    assert card.removed_at is not None and card.label == ""
    mail = _db.session.get(Delivery, sent.id)
    assert (mail.to, mail.cc, mail.opened_at) == ([], [], None)
    assert _db.session.get(Document, customer["open"].id).viewed_at is None
    report = audit.verify_chains([audit.chain_for(team.business)])
    assert report.ok
    erased = _db.session.execute(
        text("SELECT after FROM audit_events WHERE action = 'client.erased'")
    ).scalar_one()
    assert "Blue Harbor" not in str(erased)


def test_a_client_with_nothing_open_is_erased_without_a_reason(team):
    owner = team.actor()
    client = f.client(owner, name="Quiet Ltd", email="q@quiet.example")
    gdpr.erase_client(team.actor(Role.ADMIN), client.public_id, "Quiet Ltd")
    _db.session.expire_all()
    assert _raw_client(client.id)["name"].startswith("Erased client")
    with pytest.raises(InvalidInput, match="already erased"):
        gdpr.erase_client(owner, client.public_id, _raw_client(client.id)["name"])


def test_the_pdf_of_an_erased_clients_invoice_keeps_number_and_amounts(team, customer):
    owner = team.actor()
    paid = customer["paid"]
    gdpr.erase_client(owner, customer["client"].public_id, "Blue Harbor", "asked")
    _db.session.expire_all()
    archive = _zip(owner, customer["client"])
    (name,) = [n for n in archive.namelist() if paid.number in n]
    page_text = PdfReader(io.BytesIO(archive.read(name))).pages[0].extract_text()
    assert paid.number in page_text and "Erased client" in page_text
    assert "Blue Harbor" not in page_text and "12 Harbour Road" not in page_text


def test_the_retention_setting_is_for_admins_and_bounded(team):
    with pytest.raises(Forbidden):
        gdpr.set_tracking_retention(team.actor(Role.ACCOUNTANT), 30)
    with pytest.raises(InvalidInput):
        gdpr.set_tracking_retention(team.actor(Role.ADMIN), -1)
    assert gdpr.set_tracking_retention(team.actor(Role.ADMIN), 30).tracking_retention_days == 30


def test_the_purge_deletes_only_tracking_data_older_than_the_retention(team, customer):
    owner = team.actor()
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old, recent = customer["paid"], customer["open"]
    link, _ = client_portal.create_link(owner, customer["client"].public_id)
    first = delivery.send_invoice(owner, old.public_id)
    second = delivery.send_invoice(owner, recent.public_id)
    _db.session.expire_all()
    for model, row_id, column, when in (
        (Delivery, first.id, "opened_at", now - timedelta(days=40)),
        (Delivery, second.id, "opened_at", now - timedelta(days=5)),
        (Document, old.id, "viewed_at", now - timedelta(days=31)),
        (Document, recent.id, "viewed_at", now - timedelta(days=29)),
        (PortalLink, link.id, "last_used_at", now - timedelta(days=90)),
    ):
        setattr(_db.session.get(model, row_id), column, when)
    other = make_team("Kept Co")
    theirs = f.issued_invoice(other.actor(), f.client(other.actor(), name="Kept"))
    theirs.viewed_at = now - timedelta(days=400)
    _db.session.commit()
    gdpr.set_tracking_retention(team.actor(Role.ADMIN), 30)

    purged = gdpr.purge_tracking(now)
    assert purged.as_dict() == {
        "businesses": 1,
        "email_opens": 1,
        "document_views": 1,
        "link_visits": 1,
    }
    _db.session.expire_all()
    assert _db.session.get(Delivery, first.id).opened_at is None
    assert _db.session.get(Delivery, second.id).opened_at is not None
    assert _db.session.get(Document, old.id).viewed_at is None
    assert _db.session.get(Document, recent.id).viewed_at is not None
    assert _db.session.get(PortalLink, link.id).last_used_at is None
    # Retention 0 keeps everything.
    assert _db.session.get(Document, theirs.id).viewed_at is not None
    assert gdpr.purge_tracking(now).as_dict()["document_views"] == 0


# --- copies of the client's data beside the client row ----------------------------------

# What the customer fixture's client is called and reached at, wherever it was copied.
TRACES = (
    "Blue Harbor",
    "billing@blue.example",
    "Ada Lovelace",
    "ada@blue.example",
    "+44 20 7946 0000",
    "12 Harbour Road",
    "GB123456789",
)
# Kept on purpose: the hash-chained audit log (docs/privacy.md).
KEPT = {"audit_events"}


def _as_text(value) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _traces_left(values=TRACES) -> set[tuple[str, str, str]]:
    """(table, column, value) for every trace still found in any column of any table but the
    audit log, read raw: typed, or escaped as a JSON writer stores it."""
    inspector = inspect(_db.engine)
    needles = {v: {v, json.dumps(v)[1:-1]} for v in values}
    left = set()
    for table in set(inspector.get_table_names()) - KEPT:
        columns = [c["name"] for c in inspector.get_columns(table)]
        quoted = ", ".join(f'"{c}"' for c in columns)
        for row in _db.session.execute(text(f'SELECT {quoted} FROM "{table}"')):
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                cell = _as_text(value)
                left |= {
                    (table, column, v)
                    for v, forms in needles.items()
                    if any(f in cell for f in forms)
                }
    return left


def _echo(target, headers, body, *, timeout):
    """A receiver that answers with what it got, as some do."""
    return Answer(200, body, (("content-type", "application/json"),), 3)


def test_erasure_anonymises_the_copies_in_webhooks_outbox_and_emails(
    team, customer, client, monkeypatch
):
    owner = team.actor()
    buyer = customer["client"]
    monkeypatch.setattr(webhook_jobs, "post", _echo)
    webhooks.create_endpoint(
        owner, webhooks.EndpointData(url="http://127.0.0.1:9/in", events=("client.updated",))
    )
    # A change to the client: a client.updated event, delivered to the endpoint (which echoes).
    clients.update_client(
        owner,
        buyer.public_id,
        clients.ClientData(
            name="Blue Harbor",
            currency="EUR",
            email="billing@blue.example",
            phone="+44 20 7946 0000",
            tax_id="GB123456789",
            notes="VIP, call before delivery; prefers email",
            billing_line1="12 Harbour Road",
            billing_city="Bristol",
            billing_country="GB",
            tags=("vip",),
            contacts=(ContactData("Ada Lovelace", "ada@blue.example", "+44 20 7946 0000", True),),
        ),
    )
    assert webhooks.dispatch_committed() == 1
    event = _db.session.scalar(
        _db.select(WebhookEvent).where(WebhookEvent.type == "client.updated")
    )
    hook = _db.session.scalar(_db.select(WebhookDelivery))
    assert hook.status == "succeeded" and "billing@blue.example" in hook.response_body
    # An email that went out, with a personal message, and one still waiting to go.
    sent = delivery.send_invoice(
        owner, customer["paid"].public_id, message="Dear Ada Lovelace, thank you."
    )
    assert sent.status == "sent" and sent.to == ["ada@blue.example"]
    monkeypatch.setattr(outbox, "dispatch", lambda *args, **kwargs: None)
    waiting = delivery.send_invoice(owner, customer["open"].public_id, to="ada@blue.example")
    # The client accepts the quote in the portal, typing a name the team's channel is told.
    notifications.add_channel(
        owner,
        notifications.ChannelData(
            provider="slack",
            name="Sales",
            target="https://hooks.slack.com/services/T000/B000/abc",
            events=("quote.accepted",),
        ),
    )
    monkeypatch.setattr(notifications, "dispatch", lambda messages: None)
    _, token = client_portal.create_link(owner, buyer.public_id)
    opened = client_portal.open_link(token)
    client_portal.accept_quote(opened, customer["quote"], "Augusta Ada King")
    # What a payment provider sent about the client's card payment.
    _db.session.add(
        ProviderEvent(
            business_id=team.business.id,
            provider="stripe",
            event_id="evt_1",
            kind="payment",
            provider_payment_id="pi_1",
            body=json.dumps(
                {"billing_details": {"name": "Ada Lovelace", "email": "ada@blue.example"}}
            ),
            received_at=datetime(2026, 1, 5, tzinfo=UTC),
        )
    )
    _db.session.commit()
    before = _traces_left((*TRACES, "Augusta Ada King"))
    assert {t for t, _, _ in before} >= {
        "webhook_events",
        "webhook_deliveries",
        "outbox_messages",
        "deliveries",
        "provider_events",
    }

    gdpr.erase_client(owner, buyer.public_id, "Blue Harbor", "Client asked")
    _db.session.expire_all()

    assert _traces_left((*TRACES, "Augusta Ada King")) == set()
    erased = f"Erased client {buyer.public_id[-8:]}"
    kept = _db.session.get(WebhookEvent, event.id)
    assert kept.data["data"] == {**kept.data["data"], "name": erased, "email": None}
    assert kept.data["sequence"] == event.data["sequence"]
    hook = _db.session.get(WebhookDelivery, hook.id)
    assert hook.request_body == "" and hook.status == "succeeded"
    assert json.loads(hook.response_body)["data"]["name"] == erased
    # The waiting email is not sent; the one that went keeps its record without addresses.
    assert _db.session.get(Delivery, waiting.id).status == "failed"
    assert _db.session.get(Delivery, waiting.id).error == gdpr.CANCELLED
    assert _db.session.get(Delivery, sent.id).status == "sent"
    told = _db.session.scalar(
        _db.select(OutboxMessage).where(OutboxMessage.kind == notifications.KIND)
    )
    assert told.status == "pending" and erased in told.payload["text"]
    # The API serves the event as it is now.
    _, key = api_keys.create_key(owner, api_keys.KeyData(name="Sync", scopes=("webhooks:manage",)))
    answer = client.get(
        f"/api/v1/events/{event.public_id}", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_data(as_text=True)
    assert answer.get_json()["data"]["data"]["name"] == erased
    assert not [t for t in TRACES if t in body]
    # The audit log keeps its evidence, and its chain.
    assert audit.verify_chains([audit.chain_for(team.business)]).ok
    accepted = _db.session.scalar(
        _db.select(AuditEvent.after).where(AuditEvent.action == "quote.accepted")
    )
    assert accepted["accepted_by"] == "Augusta Ada King"


def test_copies_are_found_under_json_escapes_and_other_clients_keep_theirs(team, client):
    owner = team.actor()
    _, key = api_keys.create_key(owner, api_keys.KeyData(name="Sync", scopes=("clients:write",)))
    made = client.post(
        "/api/v1/clients",
        json={"name": "Zoë Müller", "currency": "EUR", "email": "zoe@muller.example"},
        headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "new-zoe"},
        csrf=False,
    )
    assert made.status_code == 201, made.get_data(as_text=True)
    other = f.client(owner, name="Zoë Müller Holdings", email="office@holdings.example")
    zoe = made.get_json()["id"]
    # A provider's body names her only as JSON escapes it (ASCII): found all the same.
    _db.session.add(
        ProviderEvent(
            business_id=team.business.id,
            provider="stripe",
            event_id="evt_2",
            kind="payment",
            provider_payment_id="pi_2",
            body=json.dumps({"billing_details": {"name": "Zoë Müller"}}),
            received_at=datetime(2026, 1, 5, tzinfo=UTC),
        )
    )
    _db.session.commit()
    assert _traces_left(("Zoë Müller", "zoe@muller.example")) >= {
        ("webhook_events", "data", "Zoë Müller"),
        ("idempotency_records", "body", "Zoë Müller"),
    }

    gdpr.erase_client(owner, zoe, "Zoë Müller")
    _db.session.expire_all()

    erased = f"Erased client {zoe[-8:]}"
    assert _traces_left(("zoe@muller.example",)) == set()
    names = {
        data["data"]["id"]: data["data"]["name"]
        for (data,) in _db.session.execute(_db.select(WebhookEvent.data))
    }
    # The other client's name holds the erased one: it is left alone all the same.
    assert names == {zoe: erased, other.public_id: "Zoë Müller Holdings"}
    assert ("webhook_events", "data", "Zoë Müller Holdings") in _traces_left(
        ("Zoë Müller Holdings",)
    )
    paid = _db.session.scalar(_db.select(ProviderEvent.body))
    assert json.loads(paid) == {"billing_details": {"name": erased}}
    record = _db.session.scalar(_db.select(IdempotencyRecord))
    assert "M\\u00fcller" not in record.body and "Müller" not in record.body
    assert json.loads(record.body)["name"] == erased
    assert other.name == "Zoë Müller Holdings"


def test_export_files_that_print_the_client_are_deleted(team, customer, app):
    owner = team.actor()
    job = gdpr.start_export(team.actor(Role.ACCOUNTANT), customer["client"].public_id)
    path = gdpr.export_path(job)
    path.write_bytes(b"PK...")
    jobs.finish(job.id, str(path))
    gdpr.erase_client(owner, customer["client"].public_id, "Blue Harbor", "asked")
    _db.session.expire_all()
    assert not path.exists()
    assert _db.session.get(Job, job.id).result_path == ""
