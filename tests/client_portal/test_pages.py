"""The public pages under /pay/<token>: statuses, scoping, PDFs, statements, quote answers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import AuditEvent, Document, PortalLink, Role
from portal.models.base import utcnow
from portal.services import client_portal, payments
from portal.services.pricing import business_today
from tests.client_portal.conftest import Shop, link_to

SECRETS = ("Acme", "Blue Harbor", "owner@", "INV-")


def _reveals_nothing(body: str) -> None:
    for word in SECRETS:
        assert word not in body


def test_tampered_link_is_403_and_says_nothing(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop, shop.invoice)
    response = client.get(f"/pay/{token[:-2]}xx")
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "This link is not valid." in body
    _reveals_nothing(body)


def test_expired_link_is_410(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop, shop.invoice)
    db.session.query(PortalLink).one().expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = client.get(f"/pay/{token}")
    assert response.status_code == 410
    body = response.get_data(as_text=True)
    assert "This link has expired; ask the sender for a new one." in body
    _reveals_nothing(body)


def test_revoked_link_is_410(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop)
    link = db.session.query(PortalLink).one()
    client_portal.revoke_link(shop.team.actor(Role.STAFF), link.public_id)
    for path in ("", "/statement", "/payments", "/statement.csv", "/brand.css"):
        response = client.get(f"/pay/{token}{path}")
        assert response.status_code == 410
        body = response.get_data(as_text=True)
        assert "This link was withdrawn" in body
        _reveals_nothing(body)


def test_invoice_link_shows_the_invoice_and_records_one_view(
    client: FlaskClient, shop: Shop
) -> None:
    token = link_to(shop, shop.invoice)
    response = client.get(f"/pay/{token}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    body = response.get_data(as_text=True)
    assert str(shop.invoice.number) in body
    assert "Design work" in body
    assert "€100.00" in body
    assert "Download PDF" in body
    assert 'style="' not in body and "<style" not in body and "<script" not in body
    client.get(f"/pay/{token}")
    invoice = db.session.get(Document, shop.invoice.id)
    assert invoice is not None and invoice.viewed_at is not None
    assert invoice.status == "viewed"
    assert db.session.query(AuditEvent).filter_by(action="invoice.viewed").count() == 1


def test_document_link_opens_no_other_document(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop, shop.invoice)
    other = shop.other_invoice.public_id
    assert client.get(f"/pay/{token}/documents/{other}").status_code == 404
    assert client.get(f"/pay/{token}/documents/{other}/pdf").status_code == 404
    assert client.get(f"/pay/{token}/statement").status_code == 404
    mine = client.get(f"/pay/{token}/documents/{shop.invoice.public_id}")
    assert mine.status_code == 200


def test_client_link_lists_documents_and_opens_each(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop)
    body = client.get(f"/pay/{token}").get_data(as_text=True)
    for doc in (shop.invoice, shop.other_invoice, shop.quote):
        assert str(doc.number) in body
    assert "Statement of account" in body
    response = client.get(f"/pay/{token}/documents/{shop.other_invoice.public_id}")
    assert response.status_code == 200
    assert "Hosting" in response.get_data(as_text=True)
    assert client.get(f"/pay/{token}/pdf").status_code == 404


def test_pdf_download(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop, shop.invoice)
    response = client.get(f"/pay/{token}/pdf?download=1")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"].startswith("attachment;")


def test_brand_css_carries_the_colour(client: FlaskClient, shop: Shop) -> None:
    shop.team.business.brand_color = "#aa3300"
    db.session.commit()
    token = link_to(shop)
    response = client.get(f"/pay/{token}/brand.css")
    assert response.mimetype == "text/css"
    assert "--brand: #aa3300;" in response.get_data(as_text=True)


def _pay(shop: Shop, amount: str) -> None:
    payments.record_payment(
        shop.team.actor(Role.OWNER),
        payments.PaymentData(
            client_id=shop.client.public_id,
            amount=Decimal(amount),
            currency="EUR",
            received_on=business_today(shop.team.business),
            reference="TR-7",
            allocations=((shop.invoice.public_id, Decimal(amount)),),
        ),
    )


def test_statement_totals_and_csv(client: FlaskClient, shop: Shop) -> None:
    _pay(shop, "100")
    token = link_to(shop)
    page = client.get(f"/pay/{token}/statement")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert '<td class="num" id="closing">€50.00</td>' in body
    assert "TR-7" in body
    rows = list(csv.reader(io.StringIO(client.get(f"/pay/{token}/statement.csv").text)))
    assert rows[0] == ["date", "description", "charge", "credit", "balance"]
    assert rows[1][1:] == ["Opening balance", "", "", "€0.00"]
    assert rows[-1][1:] == ["Closing balance", "", "", "€50.00"]
    assert [r[2] for r in rows[2:-1]] == ["€100.00", "€50.00", ""]
    assert rows[-2][3] == "€100.00"
    pdf = client.get(f"/pay/{token}/statement.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_statement_rejects_a_backwards_period(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop)
    response = client.get(f"/pay/{token}/statement?from=2026-05-01&to=2026-04-01")
    assert response.status_code == 400


def test_payment_history(client: FlaskClient, shop: Shop) -> None:
    _pay(shop, "40")
    token = link_to(shop)
    body = client.get(f"/pay/{token}/payments").get_data(as_text=True)
    assert "€40.00" in body and "TR-7" in body and str(shop.invoice.number) in body
    other = link_to(shop, shop.other_invoice)
    assert "TR-7" not in client.get(f"/pay/{other}/payments").get_data(as_text=True)


def test_accept_quote_with_a_typed_name(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop, shop.quote)
    page = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "Accept quote" in page and 'name="csrf_token"' in page
    response = client.post(f"/pay/{token}/accept", data={"name": "Dana Client"})
    assert response.status_code == 303
    quote = db.session.get(Document, shop.quote.id)
    assert quote is not None and quote.status == "accepted"
    event = db.session.query(AuditEvent).filter_by(action="quote.accepted").one()
    assert event.after is not None and event.after["accepted_by"] == "Dana Client"
    after = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "Accepted" in after and "Accept quote" not in after


def test_accept_without_a_name_is_refused(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop, shop.quote)
    response = client.post(f"/pay/{token}/accept", data={"name": "  "})
    assert response.status_code == 422
    assert "Enter the name of the person who accepted." in response.get_data(as_text=True)
    assert db.session.get(Document, shop.quote.id).status == "sent"  # type: ignore[union-attr]


def test_accept_needs_csrf(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop, shop.quote)
    response = client.post(f"/pay/{token}/accept", data={"name": "Dana"}, csrf=False)
    assert response.status_code == 400
    assert db.session.get(Document, shop.quote.id).status == "sent"  # type: ignore[union-attr]


def test_decline_quote_from_a_client_link(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop)
    path = f"/pay/{token}/documents/{shop.quote.public_id}/decline"
    response = client.post(path, data={"name": "Dana Client", "reason": "Too dear"})
    assert response.status_code == 303
    quote = db.session.get(Document, shop.quote.id)
    assert quote is not None and quote.status == "declined"
    assert quote.close_reason == "Too dear (Dana Client)"


def test_an_invoice_cannot_be_accepted(client: FlaskClient, shop: Shop) -> None:
    token = link_to(shop, shop.invoice)
    assert client.post(f"/pay/{token}/accept", data={"name": "Dana"}).status_code == 404
