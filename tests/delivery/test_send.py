"""Sending invoices and quotes through a real SMTP server: who gets what, retries, refusals."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.extensions import db as _db
from portal.models import Delivery, Document, OutboxMessage, Role
from portal.services import delivery as service
from portal.services import outbox, payments
from portal.services.errors import InvalidInput
from tests.services import factories as f


def _message_of(delivery: Delivery) -> OutboxMessage:
    return next(
        m
        for m in _db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "email.document")
        )
        if m.payload["delivery_id"] == delivery.id
    )


def test_an_invoice_arrives_with_its_pdf_to_the_billing_contacts(app, team, invoice, inbox):
    staff = team.actor(Role.STAFF)
    delivery = service.send_invoice(staff, invoice.public_id, message="Thanks for the project.")

    assert delivery.status == "sent"
    [received] = inbox.deliveries
    mail = received.message
    assert sorted(received.rcpt_tos) == ["ada@blueharbor.example", "ben@blueharbor.example"]
    assert mail["To"] == "ada@blueharbor.example"
    assert mail["Cc"] == "ben@blueharbor.example"
    assert mail["Reply-To"] == "owner@acme-ltd.example"
    assert mail["From"] == app.config["MAIL_SENDER"]
    assert mail["Subject"] == f"Invoice {invoice.number} from Acme Ltd"
    assert mail["Message-ID"] == delivery.message_id
    assert mail.get_content_type() == "multipart/mixed"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Thanks for the project." in text and "€1,231.56" in text
    assert f"<strong>{invoice.number}</strong>" in html
    assert "/t/" in html and "<" not in text
    [pdf] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename().endswith(".pdf")
    pages = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert invoice.number in pages
    assert "1,231.56" in pages

    _db.session.expire_all()
    sent = _db.session.get(Document, invoice.id)
    assert sent.status == "sent" and sent.sent_at is not None
    assert _message_of(delivery).key == f"send-invoice-{invoice.public_id}-v1"
    again = service.send_invoice(staff, invoice.public_id, to="other@example.org")
    assert _message_of(again).key == f"send-invoice-{invoice.public_id}-v2"
    assert inbox.deliveries[-1].message["To"] == "other@example.org"


def _pdf_text(received) -> str:
    [pdf] = [p for p in received.message.iter_attachments() if p.get_filename().endswith(".pdf")]
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_content())).pages)


def test_an_invoice_sent_again_after_a_part_payment_carries_the_pdf_that_shows_it(
    team, invoice, inbox
):
    staff = team.actor(Role.STAFF)
    service.send_invoice(staff, invoice.public_id)  # its PDF is stored as it is now
    payments.record_payment(
        team.actor(Role.ACCOUNTANT),
        payments.PaymentData(
            client_id=invoice.client.public_id,
            amount=Decimal("31.56"),
            currency="EUR",
            received_on=date(2026, 3, 2),
            allocations=((invoice.public_id, Decimal("31.56")),),
        ),
    )
    service.send_invoice(staff, invoice.public_id)
    service.send_invoice(staff, invoice.public_id)

    before, after, again = (_pdf_text(received) for received in inbox.deliveries)
    assert "1,231.56" in before and "1,200.00" not in before
    assert "31.56" in after and "1,200.00" in after
    assert again == after  # the stored PDF of this version, served as it is


def test_a_4xx_answer_is_retried_and_the_email_arrives_once(team, invoice, scripted):
    scripted.data_answers.append("451 4.3.0 try again")
    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)

    message = _message_of(delivery)
    assert (delivery.status, message.status) == ("queued", "pending")
    assert "451 4.3.0 try again" in message.last_error
    assert scripted.accepted == []

    assert outbox.dispatch_pending() == 1
    assert outbox.dispatch_pending() == 0
    _db.session.expire_all()
    assert _db.session.get(Delivery, delivery.id).status == "sent"
    assert scripted.attempts == 2
    [mail] = scripted.accepted
    # The business's own server, with its own sender; the same Message-ID on every attempt.
    assert mail["From"] == "Acme Billing <billing@acme.example>"
    assert mail["Message-ID"] == delivery.message_id


def test_a_5xx_answer_fails_the_delivery_with_the_servers_words(
    client, login, team, invoice, scripted
):
    scripted.data_answers.append("550 5.1.1 no such user")
    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)

    assert (delivery.status, delivery.error) == ("failed", "550 5.1.1 no such user")
    assert _message_of(delivery).status == "failed"
    assert [d.id for d, _ in service.recent_failures(team.business)] == [delivery.id]
    page = login(Role.STAFF).get(f"/app/invoices/{invoice.public_id}/email")
    assert "550 5.1.1 no such user" in page.get_data(as_text=True)
    assert scripted.accepted == []
    # The address mended on the server's side, a person retries: the email goes out once, with
    # the Message-ID it had, and a second retry of the now finished message sends nothing.
    outbox.retry(_message_of(delivery).id)
    outbox.retry(_message_of(delivery).id)
    _db.session.refresh(delivery)
    assert (delivery.status, delivery.error) == ("sent", "")
    assert [m["Message-ID"] for m in scripted.accepted] == [delivery.message_id]
    assert _message_of(delivery).status == "done"


def test_all_recipients_refused_is_permanent(team, invoice, scripted):
    scripted.refuse = {
        "ada@blueharbor.example": "550 5.1.1 no such user",
        "ben@blueharbor.example": "550 5.1.1 no such user",
    }
    delivery = service.send_invoice(team.actor(Role.STAFF), invoice.public_id)
    assert delivery.status == "failed"
    assert "550 5.1.1 no such user" in delivery.error


def test_only_issued_documents_with_an_address_are_sent(team, db, inbox):
    owner = team.actor()
    nobody = f.client(owner, name="No Address Ltd")
    draft = f.draft(owner, nobody)
    with pytest.raises(InvalidInput, match=re.escape("Issue the invoice before sending it.")):
        service.send_invoice(owner, draft.public_id)
    issued = f.issued_invoice(owner, nobody)
    with pytest.raises(InvalidInput, match=re.escape("no billing email")):
        service.send_invoice(owner, issued.public_id)
    with pytest.raises(InvalidInput, match=re.escape("Not an email address: nope.")):
        service.send_invoice(owner, issued.public_id, to="nope")
    assert inbox.deliveries == []


def test_a_viewer_may_not_send(client, login, invoice, inbox):
    page = login(Role.VIEWER)
    assert page.get(f"/app/invoices/{invoice.public_id}/email").status_code == 403
    assert page.post(f"/app/invoices/{invoice.public_id}/email", data={}).status_code == 403


def test_the_send_page_sends(client, login, team, invoice, inbox):
    page = login(Role.STAFF)
    form = page.get(f"/app/invoices/{invoice.public_id}/email").get_data(as_text=True)
    assert "ada@blueharbor.example" in form and "ben@blueharbor.example" in form
    answer = page.post(
        f"/app/invoices/{invoice.public_id}/email",
        data={"to": "ada@blueharbor.example", "message": "Hello"},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/app/invoices/{invoice.public_id}")
    assert len(inbox.deliveries) == 1


def test_a_quote_is_sent_once_numbered(team, db, inbox):
    from portal.models import DocumentKind
    from portal.services import quotes

    owner = team.actor()
    customer = f.client(owner, email="buyer@example.org")
    quote = f.draft(owner, customer, kind=DocumentKind.QUOTE)
    with pytest.raises(InvalidInput, match=re.escape("Mark the quote sent first")):
        service.send_quote(owner, quote.public_id)
    quotes.send_quote(owner, quote.public_id)
    delivery = service.send_quote(owner, quote.public_id)
    assert delivery.status == "sent"
    [received] = inbox.deliveries
    assert received.message["Subject"].startswith(f"Quote {quote.number} from")
