import re
import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import AuditEvent, Document, DocumentKind, Role
from portal.services import documents
from portal.services.documents import DraftData
from portal.services.errors import InvalidInput, NotFound
from tests.conftest import is_postgres, make_team
from tests.services import factories as f


def test_a_draft_has_totals_but_no_number(team, db):
    actor = team.actor(Role.STAFF)
    vat = f.tax_rate(team.actor(), "VAT 19%", "19")
    client = f.client(actor)
    doc = f.draft(
        actor,
        client,
        f.line("Design", "3", "95.00", tax_rate_ids=(vat.public_id,)),
        f.line(
            "Hosting", "1", "49.00", tax_rate_ids=(vat.public_id,), discount_percent=Decimal(10)
        ),
    )
    assert doc.number is None
    assert doc.status == "draft"
    # 285.00 + 44.10 = 329.10 net; 19 % of 329.10 = 62.529 -> 62.53
    assert (doc.net_minor, doc.tax_minor, doc.total_minor) == (32910, 6253, 39163)
    assert doc.breakdown == [
        {
            "category": "S",
            "percent": "19",
            "name": "VAT 19%",
            "compound": False,
            "base_minor": 32910,
            "tax_minor": 6253,
        }
    ]


def test_issuing_numbers_dates_and_freezes(team, db):
    actor = team.actor()
    client = f.client(actor, payment_terms_days=14)
    doc = f.draft(actor, client, terms_code="NET14")
    issued = documents.issue_invoice(actor, doc.public_id, on=date(2026, 3, 31))
    assert issued.number == "INV-2026-00001"
    assert issued.status == "issued"
    assert issued.due_date == date(2026, 4, 14)
    assert issued.balance_minor == 10000
    with pytest.raises(InvalidInput, match=re.escape("Only a draft can be edited")):
        documents.update_draft(
            actor, doc.public_id, DraftData(client_id=client.public_id, lines=(f.line(price="1"),))
        )


def test_numbers_restart_each_year_and_never_repeat(team, db):
    actor = team.actor()
    client = f.client(actor)
    numbers = [
        documents.issue_invoice(actor, f.draft(actor, client).public_id, on=day).number
        for day in (date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 2))
    ]
    assert numbers == ["INV-2025-00001", "INV-2026-00001", "INV-2026-00002"]


def test_a_bad_line_is_named_and_nothing_is_written(team, db):
    actor = team.actor()
    client = f.client(actor)
    with pytest.raises(InvalidInput) as info:
        f.draft(actor, client, f.line(), f.line("Bad", qty="1.23456"))
    assert info.value.errors == {"lines-1": "Quantity has more than 4 decimal places."}
    assert _db.session.scalar(select(func.count(Document.id))) == 0


def test_a_line_needs_a_description_and_rates_of_this_business(team, db):
    actor = team.actor()
    client = f.client(actor)
    foreign = f.tax_rate(make_team("Other Co").actor())
    with pytest.raises(InvalidInput) as info:
        f.draft(actor, client, f.line(tax_rate_ids=(foreign.public_id,)))
    assert info.value.errors == {"lines-0": "One of the chosen tax rates does not exist."}
    with pytest.raises(InvalidInput) as info:
        f.draft(actor, client, f.line(description=" "))
    assert info.value.errors == {"lines-0": "Describe the line or pick a product."}


def test_void_needs_a_reason_keeps_the_number_and_is_audited(team, db):
    actor = team.actor()
    doc = f.issued_invoice(actor, f.client(actor))
    with pytest.raises(InvalidInput) as info:
        documents.void_invoice(actor, doc.public_id, " ")
    assert info.value.errors == {"reason": "Say why, for the record."}
    voided = documents.void_invoice(actor, doc.public_id, "Duplicate of INV-2026-00002")
    assert (voided.status, voided.number) == ("void", doc.number)
    actions = _db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_id == doc.public_id)
        .order_by(AuditEvent.seq)
    ).all()
    assert actions == ["invoice.created", "invoice.issued", "invoice.voided"]


def test_a_draft_is_deleted_not_voided(team, db):
    actor = team.actor()
    doc = f.draft(actor, f.client(actor))
    with pytest.raises(InvalidInput, match=re.escape("A draft has no number: delete it instead.")):
        documents.void_invoice(actor, doc.public_id, "oops")
    documents.delete_draft(actor, doc.public_id)
    with pytest.raises(NotFound):
        documents.get_document(actor, doc.public_id)


def test_foreign_currency_needs_a_rate_at_issue(team, db):
    actor = team.actor()
    doc = f.draft(actor, f.client(actor, currency="USD"))
    with pytest.raises(InvalidInput) as info:
        documents.issue_invoice(actor, doc.public_id, on=date(2026, 5, 4))
    assert info.value.errors == {
        "exchange_rate": (
            "No exchange rate for USD on or before 2026-05-04: "
            "enter the rate, or import the ECB rates."
        )
    }
    issued = documents.issue_invoice(
        actor, doc.public_id, on=date(2026, 5, 4), exchange_rate=Decimal("0.9213")
    )
    assert issued.exchange_rate == Decimal("0.9213")


def test_another_business_gets_not_found(team, db):
    actor = team.actor()
    doc = f.draft(actor, f.client(actor))
    with pytest.raises(NotFound):
        documents.issue_invoice(make_team("Other Co").actor(), doc.public_id)


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="row locks under concurrency need PostgreSQL")
def test_fifty_invoices_from_eight_threads_get_fifty_consecutive_numbers(app, team, db):
    actor = team.actor()
    client = f.client(actor)
    drafts = [f.draft(actor, client).public_id for _ in range(50)]
    business_id, user_id = team.business.id, team.users[Role.OWNER].id
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(ids: list[str]) -> None:
        from portal.models import Business, User
        from portal.services.actors import Actor

        with app.app_context():
            me = Actor(
                _db.session.get(User, user_id), _db.session.get(Business, business_id), Role.OWNER
            )
            barrier.wait()
            for public_id in ids:
                try:
                    documents.issue_invoice(me, public_id, on=date(2026, 6, 1))
                except BaseException as exc:
                    errors.append(exc)
            _db.session.remove()

    threads = [threading.Thread(target=worker, args=(drafts[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _db.session.expire_all()
    numbers = sorted(
        _db.session.scalars(
            select(Document.number).where(Document.kind == DocumentKind.INVOICE)
        ).all()
    )
    assert numbers == [f"INV-2026-{n:05}" for n in range(1, 51)]


def test_a_line_unit_longer_than_the_column_is_refused_beside_the_line(team, db):
    from dataclasses import replace

    from tests.services import factories

    actor = team.actor(Role.STAFF)
    client = factories.client(actor)
    long_unit = replace(factories.line("Hours", "1", "10"), unit="y" * 21)
    with pytest.raises(InvalidInput) as refused:
        documents.create_draft(
            actor, DocumentKind.INVOICE, DraftData(client_id=client.public_id, lines=(long_unit,))
        )
    assert refused.value.errors == {"lines-0-unit": "A unit has at most 20 characters."}
    assert _db.session.scalar(select(func.count()).select_from(Document)) == 0
