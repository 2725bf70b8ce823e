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
from sqlalchemy import text

from portal.extensions import db as _db
from portal.models import Delivery, Document, DocumentKind, PortalLink, Role, SavedPaymentMethod
from portal.services import audit, client_portal, delivery, gdpr, payments, quotes
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
