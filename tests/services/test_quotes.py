import re
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.extensions import db as _db
from portal.models import AuditEvent, Document, DocumentKind, Role
from portal.services import catalogue, documents, pricing, quotes
from portal.services.catalogue import TaxRateData
from portal.services.documents import AdjustmentData
from portal.services.errors import Forbidden, InvalidInput, NotFound
from tests.conftest import is_postgres, make_team
from tests.services import factories as f

SENT_ON = date(2026, 3, 2)


def rates(team):
    owner = team.actor()
    return f.tax_rate(owner, "VAT 20%", "20"), f.tax_rate(owner, "VAT 7%", "7")


def quote(actor, client, *lines, **overrides):
    return f.draft(actor, client, *lines, kind=DocumentKind.QUOTE, **overrides)


def accepted(actor, client, *lines, **overrides):
    doc = quote(actor, client, *lines, **overrides)
    quotes.send_quote(actor, doc.public_id, on=SENT_ON)
    return quotes.accept_quote(actor, doc.public_id, "Jana Novak")


def lines_of(doc):
    return [
        (line.description, line.quantity, line.unit_price, line.taxes, line.net_minor)
        for line in doc.lines
    ]


def taxed(rate):
    return {"tax_rate_ids": (rate.public_id,)}


def actions(entity_id):
    return _db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == entity_id).order_by(AuditEvent.seq)
    ).all()


def row(name, percent, base, tax):
    return {
        "category": "S",
        "percent": percent,
        "name": name,
        "compound": False,
        "base_minor": base,
        "tax_minor": tax,
    }


# Sending and the client's answer


def test_sending_numbers_and_dates_a_quote(team, db):
    actor = team.actor(Role.STAFF)
    doc = quote(actor, f.client(actor), valid_until=date(2026, 3, 31))
    sent = quotes.send_quote(actor, doc.public_id, on=SENT_ON)
    assert (sent.number, sent.status, sent.issue_date) == ("QUO-2026-0001", "sent", SENT_ON)
    assert sent.sent_at is not None
    assert sent.due_date is None
    with pytest.raises(InvalidInput, match=re.escape("This quote was already sent.")):
        quotes.send_quote(actor, doc.public_id)


def test_a_quote_past_its_validity_is_not_sent_and_takes_no_number(team, db):
    actor = team.actor(Role.STAFF)
    client = f.client(actor)
    late = quote(actor, client, valid_until=date(2026, 3, 1))
    with pytest.raises(InvalidInput) as info:
        quotes.send_quote(actor, late.public_id, on=SENT_ON)
    assert info.value.errors == {
        "valid_until": "The quote would arrive expired: it is valid until 2026-03-01."
    }
    assert documents.get_document(actor, late.public_id).status == "draft"
    other = quotes.send_quote(actor, quote(actor, client).public_id, on=SENT_ON)
    assert other.number == "QUO-2026-0001"


def test_a_foreign_currency_quote_needs_a_rate_when_sent(team, db):
    actor = team.actor(Role.STAFF)
    doc = quote(actor, f.client(actor, currency="USD"))
    with pytest.raises(InvalidInput) as info:
        quotes.send_quote(actor, doc.public_id, on=SENT_ON)
    assert info.value.errors == {
        "exchange_rate": (
            "No exchange rate for USD on or before 2026-03-02: "
            "enter the rate, or import the ECB rates."
        )
    }
    with pytest.raises(InvalidInput) as info:
        quotes.send_quote(actor, doc.public_id, on=SENT_ON, exchange_rate=Decimal(0))
    assert info.value.errors == {"exchange_rate": "An exchange rate must be greater than 0."}
    sent = quotes.send_quote(actor, doc.public_id, on=SENT_ON, exchange_rate=Decimal("0.92"))
    assert (sent.number, sent.exchange_rate) == ("QUO-2026-0001", Decimal("0.92"))


def test_accepting_records_who_and_when(team, db):
    actor = team.actor(Role.STAFF)
    doc = quote(actor, f.client(actor))
    with pytest.raises(
        InvalidInput, match=re.escape("Send the quote before recording the client's answer.")
    ):
        quotes.accept_quote(actor, doc.public_id, "Jana Novak")
    quotes.send_quote(actor, doc.public_id, on=SENT_ON)
    with pytest.raises(InvalidInput) as info:
        quotes.accept_quote(actor, doc.public_id, "  ")
    assert info.value.errors == {"accepted_by_name": "Enter the name of the person who accepted."}
    with pytest.raises(InvalidInput) as info:
        quotes.accept_quote(actor, doc.public_id, "J" * 121)
    assert info.value.errors == {"accepted_by_name": "Keep the name to 120 characters."}
    done = quotes.accept_quote(actor, doc.public_id, " Jana Novak ")
    assert (done.status, done.decided_at is not None) == ("accepted", True)
    event = _db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "quote.accepted")
    ).one()
    assert event.after == {"status": "accepted", "accepted_by": "Jana Novak"}
    assert actions(doc.public_id) == ["quote.created", "quote.sent", "quote.accepted"]
    with pytest.raises(InvalidInput, match=re.escape("The client already accepted this quote.")):
        quotes.decline_quote(actor, doc.public_id, "Too dear")


def test_declining_keeps_the_reason_and_is_final(team, db):
    actor = team.actor(Role.STAFF)
    doc = quote(actor, f.client(actor))
    quotes.send_quote(actor, doc.public_id, on=SENT_ON)
    done = quotes.decline_quote(actor, doc.public_id, " Went with a local firm ")
    assert (done.status, done.close_reason) == ("declined", "Went with a local firm")
    with pytest.raises(InvalidInput, match=re.escape("The client already declined this quote.")):
        quotes.accept_quote(actor, doc.public_id, "Jana Novak")


def test_a_quote_past_its_date_cannot_be_accepted_even_before_the_job_runs(team, db):
    actor = team.actor(Role.STAFF)
    today = pricing.business_today(team.business)
    doc = quote(actor, f.client(actor), valid_until=today - timedelta(days=1))
    quotes.send_quote(actor, doc.public_id, on=today - timedelta(days=10))
    message = f"This quote expired on {(today - timedelta(days=1)).isoformat()}; send a new one."
    with pytest.raises(InvalidInput, match=re.escape(message)):
        quotes.accept_quote(actor, doc.public_id, "Jana Novak")
    assert documents.get_document(actor, doc.public_id).status == "sent"
    assert quotes.expire_quotes(actor, today) == [doc]
    with pytest.raises(InvalidInput, match=re.escape(message)):
        quotes.decline_quote(actor, doc.public_id)


def test_expiry_touches_only_sent_quotes_past_their_date_and_runs_twice_safely(team, db):
    actor = team.actor(Role.STAFF)
    client = f.client(actor)
    until = date(2026, 3, 10)
    overdue = quote(actor, client, valid_until=until)
    last_day = quote(actor, client, valid_until=date(2026, 3, 11))
    answered = quote(actor, client, valid_until=until)
    draft = quote(actor, client, valid_until=until)
    for doc in (overdue, last_day, answered):
        quotes.send_quote(actor, doc.public_id, on=SENT_ON)
    # Accepted while still valid, which the test can only arrange by moving the date back.
    answered.valid_until = None
    _db.session.commit()
    quotes.accept_quote(actor, answered.public_id, "Jana Novak")
    answered.valid_until = until
    _db.session.commit()
    foreign = make_team("Other Co")
    theirs = quote(foreign.actor(), f.client(foreign.actor()), valid_until=until)
    quotes.send_quote(foreign.actor(), theirs.public_id, on=SENT_ON)

    assert quotes.expire_quotes(team.business, date(2026, 3, 11)) == [overdue]
    assert [d.status for d in (overdue, last_day, answered, draft, theirs)] == [
        "expired",
        "sent",
        "accepted",
        "draft",
        "sent",
    ]
    assert quotes.expire_quotes(team.business, date(2026, 3, 11)) == []
    event = _db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "quote.expired")
    ).one()
    assert (event.entity_id, event.actor_id) == (overdue.public_id, None)
    assert quotes.expire_quotes(actor, date(2026, 3, 12)) == [last_day]


def test_roles_and_other_businesses(team, db):
    actor = team.actor(Role.STAFF)
    doc = quote(actor, f.client(actor))
    viewer = team.actor(Role.VIEWER)
    for call in (
        lambda a: quotes.send_quote(a, doc.public_id),
        lambda a: quotes.accept_quote(a, doc.public_id, "Jana Novak"),
        lambda a: quotes.decline_quote(a, doc.public_id),
        lambda a: quotes.convert_quote(a, doc.public_id),
        lambda a: quotes.convert_quote_with_deposit(a, doc.public_id, Decimal(30)),
        lambda a: quotes.create_final_invoice(a, doc.public_id),
        lambda a: quotes.expire_quotes(a, SENT_ON),
    ):
        with pytest.raises(Forbidden):
            call(viewer)
    other = make_team("Other Co").actor()
    for call in (
        lambda a: quotes.send_quote(a, doc.public_id),
        lambda a: quotes.accept_quote(a, doc.public_id, "Jana Novak"),
        lambda a: quotes.decline_quote(a, doc.public_id),
        lambda a: quotes.convert_quote(a, doc.public_id),
        lambda a: quotes.convert_quote_with_deposit(a, doc.public_id, Decimal(30)),
        lambda a: quotes.create_final_invoice(a, doc.public_id),
    ):
        with pytest.raises(NotFound):
            call(other)
    invoice = f.draft(actor, f.client(actor, name="Other client"))
    with pytest.raises(NotFound):
        quotes.send_quote(actor, invoice.public_id)


# Converting a quote into one invoice


def test_converting_copies_everything_with_the_rates_as_quoted(team, db):
    actor = team.actor(Role.STAFF)
    vat20, vat7 = rates(team)
    client = f.client(actor, name="Nordlicht AG")
    doc = accepted(
        actor,
        client,
        f.line("Design", "7", "95.55", **taxed(vat20)),
        f.line("Books", "3", "24.95", discount_percent=Decimal(10), **taxed(vat7)),
        terms_code="NET14",
        title="Website relaunch",
        po_number="PO-77",
        adjustments=(AdjustmentData("allowance", Decimal("50.00"), "Loyalty", (vat20.public_id,)),),
    )
    catalogue.update_tax_rate(team.actor(), vat20.public_id, TaxRateData("VAT std", Decimal(21)))

    invoice = quotes.convert_quote(actor, doc.public_id)

    assert (invoice.kind, invoice.status, invoice.number) == (DocumentKind.INVOICE, "draft", None)
    assert (invoice.client_id, invoice.currency, invoice.terms_code) == (client.id, "EUR", "NET14")
    assert (invoice.title, invoice.po_number, invoice.source_quote_id) == (
        "Website relaunch",
        "PO-77",
        doc.id,
    )
    assert not invoice.is_deposit
    assert lines_of(invoice) == lines_of(doc)
    assert invoice.lines[0].taxes[0]["percent"] == "20"
    assert [(a.kind, a.amount, a.reason, a.taxes) for a in invoice.adjustments] == [
        ("allowance", Decimal("50.00"), "Loyalty", doc.adjustments[0].taxes)
    ]
    # 668.85 - 50.00 at 20 % and 74.85 - 7.49 (10 %) at 7 %
    assert (
        invoice.breakdown
        == doc.breakdown
        == [
            row("VAT 20%", "20", 61885, 12377),
            row("VAT 7%", "7", 6736, 472),
        ]
    )
    assert (invoice.total_minor, invoice.amount_due_minor) == (81470, 81470)
    assert doc.status == "accepted"
    assert actions(invoice.public_id) == ["invoice.created"]
    assert actions(doc.public_id)[-1] == "quote.converted"


def test_a_quote_converts_once_until_its_invoice_is_voided(team, db):
    actor = team.actor(Role.STAFF)
    doc = accepted(actor, f.client(actor))
    first = quotes.convert_quote(actor, doc.public_id)
    draft_message = "This quote was already converted to a draft invoice."
    with pytest.raises(InvalidInput, match=re.escape(draft_message)):
        quotes.convert_quote(actor, doc.public_id)
    with pytest.raises(InvalidInput, match=re.escape(draft_message)):
        quotes.convert_quote_with_deposit(actor, doc.public_id, Decimal(30))
    documents.issue_invoice(actor, first.public_id, on=SENT_ON)
    with pytest.raises(InvalidInput) as info:
        quotes.convert_quote(actor, doc.public_id)
    assert info.value.errors == {"document": "This quote was already converted to INV-2026-00001."}
    documents.void_invoice(team.actor(Role.ACCOUNTANT), first.public_id, "Wrong address")
    again = quotes.convert_quote(actor, doc.public_id)
    assert again.source_quote_id == doc.id


@pytest.mark.parametrize("status", ["draft", "sent", "declined"])
def test_only_an_accepted_quote_converts(team, db, status):
    actor = team.actor(Role.STAFF)
    doc = quote(actor, f.client(actor))
    if status != "draft":
        quotes.send_quote(actor, doc.public_id, on=SENT_ON)
    if status == "declined":
        quotes.decline_quote(actor, doc.public_id)
    for call in (
        lambda: quotes.convert_quote(actor, doc.public_id),
        lambda: quotes.convert_quote_with_deposit(actor, doc.public_id, Decimal(30)),
        lambda: quotes.create_final_invoice(actor, doc.public_id),
    ):
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.errors == {"document": "Only an accepted quote can become an invoice."}
    assert _db.session.scalars(select(Document.id).where(Document.kind == "invoice")).all() == []


# A deposit, then the final invoice


def test_a_thirty_percent_deposit_then_the_final_invoice(team, db):
    actor = team.actor(Role.STAFF)
    vat20, vat7 = rates(team)
    doc = accepted(
        actor,
        f.client(actor),
        f.line("Design", "7", "95.55", **taxed(vat20)),
        f.line("Books", "3", "24.95", **taxed(vat7)),
    )
    # 668.85 at 20 % -> 133.77; 74.85 at 7 % -> 5.2395 -> 5.24
    assert (doc.net_minor, doc.tax_minor, doc.total_minor) == (74370, 13901, 88271)

    deposit = quotes.convert_quote_with_deposit(actor, doc.public_id, Decimal(30))

    # 30 % of 743.70 = 223.11: shares 200.655 and 22.455, the spare cent to the first row.
    assert (deposit.is_deposit, deposit.source_quote_id, deposit.status) == (True, doc.id, "draft")
    assert [(d, q, p, t) for d, q, p, t, _ in lines_of(deposit)] == [
        ("Deposit 30 % of quote QUO-2026-0001 (VAT 20%)", 1, Decimal("200.66"), vat20_snap(doc)),
        ("Deposit 30 % of quote QUO-2026-0001 (VAT 7%)", 1, Decimal("22.45"), vat7_snap(doc)),
    ]
    assert deposit.breakdown == [
        row("VAT 20%", "20", 20066, 4013),
        row("VAT 7%", "7", 2245, 157),  # 15.715 -> 1.57
    ]
    assert (deposit.net_minor, deposit.total_minor) == (22311, 26481)

    with pytest.raises(InvalidInput, match=re.escape("Issue the deposit invoice first.")):
        quotes.create_final_invoice(actor, doc.public_id)
    documents.issue_invoice(actor, deposit.public_id, on=date(2026, 3, 5))
    with pytest.raises(
        InvalidInput, match=re.escape("This quote was already converted to INV-2026-00001.")
    ):
        quotes.convert_quote(actor, doc.public_id)

    final = quotes.create_final_invoice(actor, doc.public_id)

    assert (final.source_quote_id, final.deposit_invoice_id) == (doc.id, deposit.id)
    assert not final.is_deposit
    assert [(d, q, p, n) for d, q, p, _, n in lines_of(final)] == [
        ("Design", 7, Decimal("95.55"), 66885),
        ("Books", 3, Decimal("24.95"), 7485),
        ("Less deposit invoice INV-2026-00001 (VAT 20%)", -1, Decimal("200.66"), -20066),
        ("Less deposit invoice INV-2026-00001 (VAT 7%)", -1, Decimal("22.45"), -2245),
    ]
    assert [line.taxes for line in final.lines[2:]] == [vat20_snap(doc), vat7_snap(doc)]
    assert final.breakdown == [
        row("VAT 20%", "20", 46819, 9364),  # 93.638 -> 93.64
        row("VAT 7%", "7", 5240, 367),  # 3.668 -> 3.67
    ]
    assert (final.net_minor, final.tax_minor) == (52059, 9731)
    assert final.amount_due_minor == doc.total_minor - deposit.total_minor == 61790
    assert final.tax_minor + deposit.tax_minor == doc.tax_minor

    with pytest.raises(
        InvalidInput, match=re.escape("This quote was already converted to a draft invoice.")
    ):
        quotes.create_final_invoice(actor, doc.public_id)


def vat20_snap(doc):
    return doc.lines[0].taxes


def vat7_snap(doc):
    return doc.lines[1].taxes


def test_a_deposit_follows_discounts_and_keeps_untaxed_lines_apart(team, db):
    actor = team.actor(Role.STAFF)
    vat20, vat7 = rates(team)
    doc = accepted(
        actor,
        f.client(actor),
        f.line("Hardware", "1", "1000", **taxed(vat20)),
        f.line("Training", "1", "100", **taxed(vat7)),
        f.line("Travel", "1", "55"),
        adjustments=(AdjustmentData("allowance", Decimal(100), "Launch", (vat20.public_id,)),),
    )
    deposit = quotes.convert_quote_with_deposit(actor, doc.public_id, Decimal("30.00"))
    assert [(line.description, line.unit_price) for line in deposit.lines] == [
        ("Deposit 30 % of quote QUO-2026-0001 (VAT 20%)", Decimal("270.00")),
        ("Deposit 30 % of quote QUO-2026-0001 (VAT 7%)", Decimal("30.00")),
        ("Deposit 30 % of quote QUO-2026-0001", Decimal("16.50")),
    ]
    assert deposit.net_minor == 31650  # 30 % of 1,055.00
    documents.issue_invoice(actor, deposit.public_id, on=date(2026, 3, 5))
    final = quotes.create_final_invoice(actor, doc.public_id)
    assert [a.amount for a in final.adjustments] == [Decimal(100)]
    assert final.net_minor == 105500 - 31650
    assert final.amount_due_minor == doc.total_minor - deposit.total_minor


def test_a_deposit_on_a_quote_in_yen(team, db):
    owner = team.actor()
    actor = team.actor(Role.STAFF)
    jct10, jct8 = f.tax_rate(owner, "JCT 10%", "10"), f.tax_rate(owner, "JCT 8%", "8")
    doc = quote(
        actor,
        f.client(actor, name="Sakura KK", currency="JPY"),
        f.line("Consulting", "3", "33333", **taxed(jct10)),
        f.line("Catering", "1", "5555", **taxed(jct8)),
    )
    quotes.send_quote(actor, doc.public_id, on=SENT_ON, exchange_rate=Decimal("0.0061"))
    quotes.accept_quote(actor, doc.public_id, "Sato Haruto")
    # 99,999 at 10 % -> 10,000 (9,999.9); 5,555 at 8 % -> 444 (444.4)
    assert (doc.net_minor, doc.tax_minor, doc.total_minor) == (105554, 10444, 115998)

    deposit = quotes.convert_quote_with_deposit(actor, doc.public_id, Decimal(30))

    # 30 % of 105,554 = 31,666.2 -> 31,666 yen: shares 29,999.51 and 1,666.49.
    assert [(line.description, line.unit_price) for line in deposit.lines] == [
        ("Deposit 30 % of quote QUO-2026-0001 (JCT 10%)", Decimal(30000)),
        ("Deposit 30 % of quote QUO-2026-0001 (JCT 8%)", Decimal(1666)),
    ]
    assert (deposit.net_minor, deposit.tax_minor, deposit.total_minor) == (31666, 3133, 34799)
    documents.issue_invoice(
        actor, deposit.public_id, on=date(2026, 3, 5), exchange_rate=Decimal("0.0061")
    )
    final = quotes.create_final_invoice(actor, doc.public_id)
    assert final.currency == "JPY"
    assert [r["base_minor"] for r in final.breakdown] == [69999, 3889]
    assert [r["tax_minor"] for r in final.breakdown] == [7000, 311]  # 6,999.9 and 311.12
    assert final.amount_due_minor == 81199 == doc.total_minor - deposit.total_minor


def test_the_final_invoice_settles_to_the_cent_even_when_each_invoice_rounds_its_tax(team, db):
    actor = team.actor(Role.STAFF)
    _, vat7 = rates(team)
    doc = accepted(actor, f.client(actor), f.line("Books", "1", "10.50", **taxed(vat7)))
    deposit = quotes.convert_quote_with_deposit(actor, doc.public_id, Decimal(30))
    documents.issue_invoice(actor, deposit.public_id, on=date(2026, 3, 5))
    final = quotes.create_final_invoice(actor, doc.public_id)
    assert (doc.total_minor, deposit.total_minor) == (1124, 337)
    assert final.amount_due_minor == 787


def test_the_final_invoice_needs_a_deposit_invoice_that_counts(team, db):
    actor = team.actor(Role.STAFF)
    doc = accepted(actor, f.client(actor))
    no_deposit = "This quote has no deposit invoice; convert it with a deposit first."
    with pytest.raises(InvalidInput, match=re.escape(no_deposit)):
        quotes.create_final_invoice(actor, doc.public_id)
    deposit = quotes.convert_quote_with_deposit(actor, doc.public_id, Decimal(40))
    documents.issue_invoice(actor, deposit.public_id, on=date(2026, 3, 5))
    documents.void_invoice(team.actor(Role.ACCOUNTANT), deposit.public_id, "Wrong percentage")
    with pytest.raises(InvalidInput, match=re.escape(no_deposit)):
        quotes.create_final_invoice(actor, doc.public_id)
    again = quotes.convert_quote_with_deposit(actor, doc.public_id, Decimal(50))
    assert again.net_minor == 5000


@pytest.mark.parametrize(
    ("percent", "message"),
    [
        (Decimal(0), "Enter a percentage above 0 and up to 100."),
        (Decimal("-5"), "Enter a percentage above 0 and up to 100."),
        (Decimal("100.5"), "Enter a percentage above 0 and up to 100."),
        (Decimal("33.333"), "Enter a percentage with at most two decimals."),
    ],
)
def test_a_deposit_percentage_must_make_sense(team, db, percent, message):
    actor = team.actor(Role.STAFF)
    doc = accepted(actor, f.client(actor))
    with pytest.raises(InvalidInput) as info:
        quotes.convert_quote_with_deposit(actor, doc.public_id, percent)
    assert info.value.errors == {"percent": message}


def test_a_quote_that_comes_to_nothing_has_no_deposit(team, db):
    actor = team.actor(Role.STAFF)
    doc = accepted(actor, f.client(actor), f.line("Free audit", "1", "0"))
    with pytest.raises(InvalidInput) as info:
        quotes.convert_quote_with_deposit(actor, doc.public_id, Decimal(30))
    assert info.value.errors == {"document": "This quote comes to nothing, so there is no deposit."}


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="row locks under concurrency need PostgreSQL")
def test_two_people_converting_at_once_make_one_invoice(app, team, db):
    actor = team.actor(Role.STAFF)
    doc = accepted(actor, f.client(actor))
    business_id, user_id = team.business.id, team.users[Role.STAFF].id
    outcomes: list[object] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        from portal.models import Business, User
        from portal.services.actors import Actor

        with app.app_context():
            me = Actor(
                _db.session.get(User, user_id), _db.session.get(Business, business_id), Role.STAFF
            )
            barrier.wait()
            try:
                outcomes.append(quotes.convert_quote(me, doc.public_id).public_id)
            except InvalidInput as exc:
                outcomes.append(exc.errors)
            _db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = {"document": "This quote was already converted to a draft invoice."}
    _db.session.expire_all()
    made = _db.session.scalars(select(Document).where(Document.source_quote_id == doc.id)).all()
    assert len(made) == 1
    assert sorted(outcomes, key=str) == sorted([made[0].public_id, *[refused] * 3], key=str)
