import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import AuditEvent, CreditApplication, Document, DocumentKind, Refund, Role
from portal.services import balances, credit_notes, documents, payments
from portal.services.balances import ClientCredit
from portal.services.documents import AdjustmentData, DraftData
from portal.services.errors import Forbidden, InvalidInput, NotFound
from tests.conftest import make_team
from tests.services import factories as f

DAY = date(2026, 4, 1)


def taxed(rate):
    return {"tax_rate_ids": (rate.public_id,)}


def two_rate_invoice(team):
    """Design 3 x 120.00 at 20 % less a 36.00 discount, books 4 x 24.90 at 7 %: 495.37."""
    owner = team.actor()
    vat20, vat7 = f.tax_rate(owner, "VAT 20%", "20"), f.tax_rate(owner, "VAT 7%", "7")
    invoice = f.issued_invoice(
        owner,
        f.client(owner),
        f.line("Design", "3", "120.00", **taxed(vat20)),
        f.line("Books", "4", "24.90", **taxed(vat7)),
        adjustments=(AdjustmentData("allowance", Decimal(36), "Loyalty", (vat20.public_id,)),),
    )
    # 20 %: 324.00 -> 64.80; 7 %: 99.60 -> 6.972 -> 6.97
    assert (invoice.net_minor, invoice.tax_minor, invoice.total_minor) == (42360, 7177, 49537)
    return invoice


def actions(entity_id):
    return _db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == entity_id).order_by(AuditEvent.seq)
    ).all()


def count(model):
    return _db.session.scalar(select(func.count()).select_from(model))


def test_a_full_credit_note_mirrors_the_invoice_and_settles_it(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = two_rate_invoice(team)

    note = credit_notes.create_credit_note(actor, invoice.public_id, reason=" Cancelled order ")

    assert (note.kind, note.status, note.number) == (DocumentKind.CREDIT_NOTE, "draft", None)
    assert (note.credited_invoice_id, note.client_id) == (invoice.id, invoice.client_id)
    assert note.notes == "Cancelled order"
    assert [(n.description, n.quantity, n.net_minor, n.taxes) for n in note.lines] == [
        (i.description, i.quantity, i.net_minor, i.taxes) for i in invoice.lines
    ]
    assert [(a.kind, a.amount) for a in note.adjustments] == [("allowance", Decimal(36))]
    assert note.breakdown == invoice.breakdown
    assert note.total_minor == 49537

    issued = credit_notes.issue_credit_note(actor, note.public_id, on=DAY)

    assert (issued.number, issued.status, issued.issue_date) == ("CN-2026-0001", "issued", DAY)
    assert (invoice.balance_minor, invoice.status) == (0, "paid")
    assert issued.balance_minor == 0
    application = _db.session.scalars(select(CreditApplication)).one()
    assert (application.invoice_id, application.amount_minor) == (invoice.id, 49537)
    assert balances.client_credit(invoice.client) == []
    assert actions(note.public_id) == ["credit_note.created", "credit_note.issued"]


def test_a_partial_credit_note_takes_its_share_of_the_discount(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = two_rate_invoice(team)
    payments.pay_invoice(actor, invoice.public_id, Decimal(100), DAY)

    note = credit_notes.create_credit_note(
        actor, invoice.public_id, ((0, Decimal(1)), (1, Decimal(2))), "Returned"
    )

    assert [(n.description, n.quantity, n.net_minor) for n in note.lines] == [
        ("Design", 1, 12000),
        ("Books", 2, 4980),
    ]
    # One of three design units: a third of the 36.00 discount given on them.
    assert [(a.reason, a.amount) for a in note.adjustments] == [("Loyalty", Decimal(12))]
    assert [(r["base_minor"], r["tax_minor"]) for r in note.breakdown] == [
        (10800, 2160),
        (4980, 349),  # 3.486 -> 3.49
    ]
    assert note.total_minor == 18289

    credit_notes.issue_credit_note(actor, note.public_id)

    # 495.37 - 100.00 paid - 182.89 credited
    assert (invoice.balance_minor, invoice.status) == (21248, "partially_paid")
    assert balances.settled_on(invoice) == 10000 + 18289
    with pytest.raises(InvalidInput) as info:
        credit_notes.create_credit_note(actor, invoice.public_id)
    assert info.value.errors == {
        "lines": (
            "Only 312.48 EUR of invoice INV-2026-00001 is left to credit after CN-2026-0001; "
            "this credit note comes to 495.37 EUR."
        )
    }
    rest = credit_notes.create_credit_note(
        actor, invoice.public_id, ((0, Decimal(2)), (1, Decimal(2)))
    )
    # The nets are exactly what is left (216.00 at 20 %, 49.80 at 7 %), but each note rounds
    # its own tax: 3.486 -> 3.49 twice where the invoice had 6.972 -> 6.97. The cent that
    # rounding adds is allowed; crediting more net at any rate is not.
    assert [r["base_minor"] for r in rest.breakdown] == [21600, 4980]
    assert rest.total_minor == 31249
    credit_notes.issue_credit_note(actor, rest.public_id)
    assert (invoice.balance_minor, invoice.status) == (0, "paid")
    # Everything is credited, so the 100.00 paid comes back as credit, with that cent.
    assert balances.client_credit(invoice.client) == [ClientCredit("EUR", 10001)]


def test_a_credit_note_cannot_move_credit_from_one_tax_rate_to_another(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = two_rate_invoice(team)
    vat20 = invoice.lines[0].taxes[0]["id"]
    note = credit_notes.create_credit_note(actor, invoice.public_id, ((1, Decimal(1)),))
    documents.update_draft(
        team.actor(Role.STAFF),
        note.public_id,
        DraftData(
            client_id=invoice.client.public_id,
            lines=(f.line("Design", "1", "400", tax_rate_ids=(vat20,)),),
        ),
    )
    with pytest.raises(InvalidInput) as info:
        credit_notes.issue_credit_note(actor, note.public_id)
    assert info.value.errors == {
        "lines": "This credits more at VAT 20% than invoice INV-2026-00001 has left to credit."
    }


def test_a_fixed_line_discount_shrinks_with_the_quantity_credited(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = f.issued_invoice(
        team.actor(),
        f.client(team.actor()),
        f.line("Widgets", "3", "10.00", discount_amount=Decimal("1.00")),
    )
    note = credit_notes.create_credit_note(actor, invoice.public_id, ((0, Decimal(1)),))
    assert (note.lines[0].discount_amount, note.lines[0].net_minor) == (Decimal("0.33"), 967)


def test_leftover_credit_is_used_by_a_later_invoice_then_refunded(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    client = f.client(team.actor())
    invoice = f.issued_invoice(team.actor(), client, f.line(price="100"))
    payments.pay_invoice(actor, invoice.public_id, Decimal(70), DAY)
    note = credit_notes.create_credit_note(actor, invoice.public_id)
    credit_notes.issue_credit_note(actor, note.public_id)

    # 30.00 closes the invoice; the other 70.00 stays with the client.
    assert (invoice.balance_minor, invoice.status) == (0, "paid")
    assert note.balance_minor == 7000
    assert balances.client_credit(client) == [ClientCredit("EUR", 7000)]

    later = f.issued_invoice(team.actor(), client, f.line(price="50"))
    assert payments.apply_client_credit(actor, later.public_id) == 5000
    assert (later.balance_minor, later.status) == (0, "paid")
    assert balances.client_credit(client) == [ClientCredit("EUR", 2000)]

    with pytest.raises(InvalidInput) as info:
        credit_notes.refund_credit_note(actor, note.public_id, Decimal(25), DAY)
    assert info.value.errors == {"amount": "Only 20.00 EUR of this credit note is left to refund."}
    refund = credit_notes.refund_credit_note(actor, note.public_id, Decimal(20), DAY, " SEPA 0042 ")
    assert (refund.amount_minor, refund.currency, refund.reference) == (2000, "EUR", "SEPA 0042")
    assert (refund.credit_note_id, refund.payment_id) == (note.id, None)
    assert note.balance_minor == 0
    assert balances.client_credit(client) == []
    with pytest.raises(InvalidInput) as info:
        credit_notes.refund_credit_note(actor, note.public_id, Decimal(1), DAY)
    assert info.value.errors == {"amount": "Nothing is left of this credit note to refund."}
    assert actions(note.public_id) == [
        "credit_note.created",
        "credit_note.issued",
        "credit_note.refunded",
    ]


def test_issued_without_applying_the_whole_note_is_client_credit(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = f.issued_invoice(team.actor(), f.client(team.actor()), f.line(price="80"))
    note = credit_notes.create_credit_note(actor, invoice.public_id)
    credit_notes.issue_credit_note(actor, note.public_id, apply_to_invoice=False)
    assert (invoice.balance_minor, invoice.status) == (8000, "issued")
    assert balances.client_credit(invoice.client) == [ClientCredit("EUR", 8000)]
    assert count(CreditApplication) == 0


def test_chosen_lines_are_checked_and_each_error_is_named(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = two_rate_invoice(team)
    with pytest.raises(InvalidInput) as info:
        credit_notes.create_credit_note(
            actor,
            invoice.public_id,
            ((0, Decimal(4)), (1, Decimal(0)), (5, Decimal(1))),
        )
    assert info.value.errors == {
        "lines-0": "Enter a quantity above 0 and at most 3.",
        "lines-1": "Enter a quantity above 0 and at most 4.",
        "lines": "The invoice has no line 6.",
    }
    with pytest.raises(InvalidInput) as info:
        credit_notes.create_credit_note(
            actor, invoice.public_id, ((0, Decimal(1)), (0, Decimal(1)), (1, Decimal("0.00001")))
        )
    assert info.value.errors == {
        "lines-0": "Line 1 is chosen twice.",
        "lines-1": "Quantity has more than 4 decimal places.",
    }
    with pytest.raises(InvalidInput, match=re.escape("Choose at least one line to credit.")):
        credit_notes.create_credit_note(actor, invoice.public_id, ())
    assert count(Document) == 1


def test_only_issued_invoices_that_are_not_void_can_be_credited(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    client = f.client(team.actor())
    draft = f.draft(team.actor(), client)
    with pytest.raises(InvalidInput) as info:
        credit_notes.create_credit_note(actor, draft.public_id)
    assert info.value.errors == {
        "document": "A draft can still be edited; only an issued invoice is credited."
    }
    void = f.issued_invoice(team.actor(), client)
    documents.void_invoice(actor, void.public_id, "Duplicate")
    with pytest.raises(InvalidInput, match=re.escape("A void invoice cannot be credited.")):
        credit_notes.create_credit_note(actor, void.public_id)


def test_a_draft_credit_note_counts_against_what_is_left(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = f.issued_invoice(team.actor(), f.client(team.actor()))
    credit_notes.create_credit_note(actor, invoice.public_id)
    with pytest.raises(InvalidInput) as info:
        credit_notes.create_credit_note(actor, invoice.public_id, ((0, Decimal(1)),))
    assert info.value.errors == {
        "lines": "Nothing of invoice INV-2026-00001 is left to credit after a draft credit note."
    }


def test_issuing_checks_again_after_the_draft_was_edited(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = f.issued_invoice(team.actor(), f.client(team.actor()))
    note = credit_notes.create_credit_note(actor, invoice.public_id)
    documents.update_draft(
        team.actor(Role.STAFF),
        note.public_id,
        DraftData(client_id=invoice.client.public_id, lines=(f.line(price="120"),)),
    )
    with pytest.raises(InvalidInput) as info:
        credit_notes.issue_credit_note(actor, note.public_id)
    assert info.value.errors == {
        "lines": (
            "Only 100.00 EUR of invoice INV-2026-00001 is left to credit; "
            "this credit note comes to 120.00 EUR."
        )
    }
    note = documents.get_document(actor, note.public_id)
    assert (note.status, note.number) == ("draft", None)
    documents.update_draft(
        team.actor(Role.STAFF),
        note.public_id,
        DraftData(client_id=invoice.client.public_id, lines=(f.line(price="60"),)),
    )
    assert credit_notes.issue_credit_note(actor, note.public_id).number == "CN-2026-0001"
    with pytest.raises(InvalidInput, match=re.escape("This credit note is already issued.")):
        credit_notes.issue_credit_note(actor, note.public_id)


def test_a_voided_invoice_stops_its_draft_credit_note(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = f.issued_invoice(team.actor(), f.client(team.actor()))
    note = credit_notes.create_credit_note(actor, invoice.public_id)
    documents.void_invoice(actor, invoice.public_id, "Issued by mistake")
    with pytest.raises(
        InvalidInput, match=re.escape("The credited invoice was voided; delete this draft instead.")
    ):
        credit_notes.issue_credit_note(actor, note.public_id)


def test_a_foreign_currency_credit_note_keeps_the_invoice_rate(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    draft = f.draft(team.actor(), f.client(team.actor(), currency="USD"))
    invoice = documents.issue_invoice(
        team.actor(), draft.public_id, on=DAY, exchange_rate=Decimal("0.9213")
    )
    note = credit_notes.create_credit_note(actor, invoice.public_id)
    issued = credit_notes.issue_credit_note(actor, note.public_id, on=date(2026, 5, 4))
    assert (issued.currency, issued.exchange_rate) == ("USD", Decimal("0.9213"))


def test_refunds_need_an_issued_note_and_a_payable_amount(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    invoice = f.issued_invoice(team.actor(), f.client(team.actor()))
    note = credit_notes.create_credit_note(actor, invoice.public_id)
    with pytest.raises(InvalidInput, match=re.escape("Issue the credit note before refunding it.")):
        credit_notes.refund_credit_note(actor, note.public_id, Decimal(10), DAY)
    credit_notes.issue_credit_note(actor, note.public_id, apply_to_invoice=False)
    for amount, message in (
        (Decimal(0), "The amount must be greater than 0."),
        (Decimal("1.234"), "Enter an amount EUR can hold."),
        (Decimal("100.01"), "Only 100.00 EUR of this credit note is left to refund."),
    ):
        with pytest.raises(InvalidInput) as info:
            credit_notes.refund_credit_note(actor, note.public_id, amount, DAY)
        assert info.value.errors == {"amount": message}
    with pytest.raises(InvalidInput) as info:
        credit_notes.refund_credit_note(actor, note.public_id, Decimal(1), DAY, "x" * 121)
    assert info.value.errors == {"reference": "Keep the reference to 120 characters."}
    assert count(Refund) == 0


def test_roles_and_other_businesses(team, db):
    invoice = f.issued_invoice(team.actor(), f.client(team.actor()))
    note = credit_notes.create_credit_note(team.actor(Role.ACCOUNTANT), invoice.public_id)
    staff = team.actor(Role.STAFF)
    with pytest.raises(Forbidden):
        credit_notes.create_credit_note(staff, invoice.public_id)
    with pytest.raises(Forbidden):
        credit_notes.issue_credit_note(staff, note.public_id)
    with pytest.raises(Forbidden):
        credit_notes.refund_credit_note(staff, note.public_id, Decimal(1), DAY)
    other = make_team("Other Co").actor(Role.ACCOUNTANT)
    with pytest.raises(NotFound):
        credit_notes.create_credit_note(other, invoice.public_id)
    with pytest.raises(NotFound):
        credit_notes.issue_credit_note(other, note.public_id)
    with pytest.raises(NotFound):
        credit_notes.refund_credit_note(other, note.public_id, Decimal(1), DAY)
    with pytest.raises(NotFound):  # an invoice id where a credit note is expected
        credit_notes.issue_credit_note(team.actor(), invoice.public_id)


def test_a_credit_note_drafted_without_an_invoice_is_not_issued(team, db):
    actor = team.actor(Role.ACCOUNTANT)
    note = f.draft(team.actor(), f.client(team.actor()), kind=DocumentKind.CREDIT_NOTE)
    with pytest.raises(InvalidInput) as info:
        credit_notes.issue_credit_note(actor, note.public_id)
    assert info.value.errors == {
        "document": "This credit note names no invoice; create it from the invoice instead."
    }
