"""Export and import through the portal's services: round trips, refusals, one transaction."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from integrations import envelope as env
from portal.models import AuditEvent, Client, Document, Payment, Role
from portal.services import documents, envelopes, payments
from portal.services.envelopes import EnvelopeRefused
from portal.services.errors import Forbidden
from tests.conftest import make_team
from tests.services import factories as f


def _schema_errors(envelope: dict) -> list[str]:
    validator = Draft202012Validator(env.schema())
    return [e.message for e in validator.iter_errors(envelope)]


def _count(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def _rich_invoice(actor):
    client = f.client(
        actor,
        name="Fjord AS",
        email="billing@fjord.example",
        billing_country="NO",
        contacts=(),
    )
    vat = f.tax_rate(actor, "VAT 19%", "19")
    levy = f.tax_rate(actor, "Eco levy 2%", "2")
    doc = f.draft(
        actor,
        client,
        f.line(
            "Design hours",
            "3",
            "95.50",
            discount_percent=Decimal(10),
            tax_rate_ids=(vat.public_id,),
        ),
        f.line("Brochures", "250", "1.234", tax_rate_ids=(vat.public_id, levy.public_id)),
        f.line("Workshop", "1", "1190", price_includes_tax=True, tax_rate_ids=(vat.public_id,)),
        title="Spring campaign",
        po_number="PO-7",
    )
    return documents.issue_invoice(actor, doc.public_id)


def test_every_export_validates_against_the_schema(team, db):
    actor = team.actor()
    invoice = _rich_invoice(actor)
    payments.pay_invoice(actor, invoice.public_id, Decimal("100.00"), date(2026, 3, 2))
    exported = [
        envelopes.export_invoice(actor, invoice.public_id, pdf_for=lambda d: b"%PDF-1.7 stub"),
        envelopes.export_client(actor, invoice.client.public_id),
        envelopes.export_payments(actor, date(2026, 3, 1), date(2026, 3, 31)),
    ]
    for envelope in exported:
        assert _schema_errors(envelope) == []
        assert env.check(env.dumps(envelope)) == []
    attachment = exported[0]["attachments"][0]
    assert attachment["media_type"] == "application/pdf"
    assert env.decode_attachment(attachment) == b"%PDF-1.7 stub"


def test_a_client_round_trips_with_its_contacts(team, db):
    actor = team.actor()
    original = f.client(
        actor,
        name="Blue Harbor GmbH",
        email="ap@blueharbor.example",
        billing_city="Hamburg",
        billing_country="DE",
        tags=("wholesale",),
        contacts=(
            f.clients.ContactData("Ana", "ana@blueharbor.example", is_primary=True),
            f.clients.ContactData("Bo", "bo@blueharbor.example"),
        ),
    )
    exported = envelopes.export_client(actor, original.public_id)
    other = make_team("Other Ltd").actor()
    result = envelopes.import_envelope(other, env.dumps(exported), allow_unsigned=True)
    [item] = result.items
    assert (item.kind, item.created) == ("client", True)
    copy = f.clients.get_client(other, item.public_id)
    assert envelopes.client_payload(copy) | {"id": None} == envelopes.client_payload(original) | {
        "id": None
    }
    again = envelopes.import_envelope(other, env.dumps(exported), allow_unsigned=True)
    assert again.items[0].created is False
    assert again.items[0].public_id == item.public_id


def test_an_invoice_round_trips_with_identical_totals(team, db):
    actor = team.actor()
    invoice = _rich_invoice(actor)
    exported = envelopes.export_invoice(actor, invoice.public_id)
    other_team = make_team("Other Ltd")
    other = other_team.actor()
    f.tax_rate(other, "VAT 19%", "19")
    f.tax_rate(other, "Eco levy 2%", "2")
    result = envelopes.import_envelope(other, env.dumps(exported), allow_unsigned=True)
    kinds = [(i.kind, i.created) for i in result.items]
    assert kinds == [("client", True), ("invoice", True)]
    draft = documents.get_document(other, result.items[1].public_id)
    assert draft.status == "draft"
    for name in ("net_minor", "tax_minor", "total_minor", "amount_due_minor"):
        assert getattr(draft, name) == getattr(invoice, name)
    assert draft.breakdown == invoice.breakdown
    mine = envelopes.invoice_payload(draft)["lines"]
    theirs = exported["payload"]["lines"]
    assert [(m["net"], m["total"], m["quantity"]) for m in mine] == [
        (t["net"], t["total"], t["quantity"]) for t in theirs
    ]


def test_payments_round_trip_with_allocations_matched_by_number(team, db):
    actor = team.actor()
    client = f.client(actor, email="pay@fjord.example")
    first = f.issued_invoice(actor, client, f.line("A", "1", "300"))
    second = f.issued_invoice(actor, client, f.line("B", "1", "200"))
    payments.record_payment(
        actor,
        payments.PaymentData(
            client_id=client.public_id,
            amount=Decimal("450.00"),
            currency="EUR",
            received_on=date(2026, 3, 5),
            reference="wire 42",
            allocations=((first.public_id, Decimal("300")), (second.public_id, Decimal("150"))),
        ),
    )
    exported = envelopes.export_payments(actor, date(2026, 3, 1), date(2026, 3, 31))
    # A second business that holds invoices with the same numbers takes the payments in.
    other_team = make_team("Other Ltd")
    other = other_team.actor()
    other_client = f.client(other, email="pay@fjord.example")
    f.issued_invoice(other, other_client, f.line("A", "1", "300"))
    f.issued_invoice(other, other_client, f.line("B", "1", "200"))
    result = envelopes.import_envelope(other, env.dumps(exported), allow_unsigned=True)
    [item] = result.items
    payment = payments.get_payment(other, item.public_id)
    assert payment.amount_minor == 45000
    assert sorted(a.amount_minor for a in payment.allocations) == [15000, 30000]
    assert envelopes.payment_payload(payment)["allocations"] == [
        {**a, "invoice_id": ANY} for a in exported["payload"]["payments"][0]["allocations"]
    ]


class _Any:
    def __eq__(self, other: object) -> bool:
        return True


ANY = _Any()


def test_an_unmatched_tax_rate_is_refused_with_the_line_pointer_and_nothing_is_written(team, db):
    actor = team.actor()
    invoice = _rich_invoice(actor)
    exported = envelopes.export_invoice(actor, invoice.public_id)
    other_team = make_team("Other Ltd")
    other = other_team.actor()
    f.tax_rate(other, "VAT 19%", "19")  # no 2 % levy
    before = (_count(db, Client), _count(db, Document), _count(db, AuditEvent))
    with pytest.raises(EnvelopeRefused) as refused:
        envelopes.import_envelope(other, env.dumps(exported), allow_unsigned=True)
    assert [(p.pointer, p.message) for p in refused.value.problems] == [
        (
            "/payload/lines/1",
            "no tax rate of category S at 2 % in this business; add one under Tax rates",
        )
    ]
    assert (_count(db, Client), _count(db, Document), _count(db, AuditEvent)) == before


def test_a_failure_after_the_client_was_created_rolls_the_client_back(team, db):
    actor = team.actor()
    invoice = _rich_invoice(actor)
    exported = envelopes.export_invoice(actor, invoice.public_id)
    exported["payload"]["totals"]["total"]["minor"] += 1
    other_team = make_team("Other Ltd")
    other = other_team.actor()
    f.tax_rate(other, "VAT 19%", "19")
    f.tax_rate(other, "Eco levy 2%", "2")
    before = (_count(db, Client), _count(db, Document), _count(db, AuditEvent))
    with pytest.raises(EnvelopeRefused) as refused:
        envelopes.import_envelope(other, env.dumps(exported), allow_unsigned=True)
    [problem] = refused.value.problems
    assert problem.pointer == "/payload/totals/total"
    assert problem.message == (
        f"total says {invoice.total_minor + 1} minor units but the lines come to "
        f"{invoice.total_minor}"
    )
    assert (_count(db, Client), _count(db, Document), _count(db, AuditEvent)) == before


def test_a_payment_for_an_unknown_invoice_number_is_refused(team, db):
    actor = team.actor()
    client = f.client(actor, email="pay@fjord.example")
    invoice = f.issued_invoice(actor, client)
    payments.pay_invoice(actor, invoice.public_id, Decimal("50"), date(2026, 3, 5))
    exported = envelopes.export_payments(actor, date(2026, 3, 1), date(2026, 3, 31))
    other = make_team("Other Ltd").actor()
    f.client(other, email="pay@fjord.example")
    with pytest.raises(EnvelopeRefused) as refused:
        envelopes.import_envelope(other, env.dumps(exported), allow_unsigned=True)
    assert [(p.pointer, p.message) for p in refused.value.problems] == [
        (
            "/payload/payments/0/allocations/0/invoice_number",
            f"no invoice numbered {invoice.number!r} in this business",
        )
    ]
    assert _count(db, Payment) == 1


def test_unsigned_envelopes_need_the_callers_consent(team, db, app):
    actor = team.actor()
    exported = envelopes.export_client(actor, f.client(actor).public_id)
    with pytest.raises(EnvelopeRefused) as refused:
        envelopes.import_envelope(actor, env.dumps(exported))
    assert [(p.pointer, p.message) for p in refused.value.problems] == [
        ("/signature", "the envelope is not signed")
    ]


def test_signed_envelopes_verify_with_the_configured_keys(team, db, app, monkeypatch):
    actor = team.actor()
    monkeypatch.setitem(app.config, "ENVELOPE_KEYS", {"partner-1": "hmac:c2VjcmV0"})
    exported = envelopes.export_client(actor, f.client(actor, email="a@b.example").public_id)
    signed = env.sign_hmac(exported, "partner-1", b"secret")
    result = envelopes.import_envelope(actor, env.dumps(signed))
    assert result.items[0].created is False
    forged = env.sign_hmac(exported, "partner-1", b"guess")
    with pytest.raises(EnvelopeRefused, match=re.escape("/signature/value: the signature")):
        envelopes.import_envelope(actor, env.dumps(forged))


def test_payments_need_an_accountant(team, db):
    actor = team.actor()
    exported = envelopes.export_payments(team.actor(), date(2026, 1, 1), date(2026, 1, 31))
    with pytest.raises(Forbidden):
        envelopes.import_envelope(team.actor(Role.STAFF), env.dumps(exported), allow_unsigned=True)
    assert envelopes.import_envelope(actor, json.dumps(exported), allow_unsigned=True).items == ()
