"""The download routes and the branding pages, with the roles they need."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from portal.models import Client, Role
from portal.services import branding
from tests.conftest import Team, make_team
from tests.documents.conftest import draft_invoice, invoice_with_tax, pdf_text
from tests.documents.test_logo import image_bytes
from tests.services import factories


def test_a_viewer_downloads_an_invoice_pdf(login: Any, owner: Any, customer: Client):
    invoice = invoice_with_tax(owner, customer)
    client: FlaskClient = login(Role.VIEWER)

    first = client.get(f"/app/invoices/{invoice.public_id}/pdf")
    second = client.get(f"/app/invoices/{invoice.public_id}/pdf?download=1")

    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert first.headers["X-PDF-Cache"] == "miss" and second.headers["X-PDF-Cache"] == "hit"
    assert second.headers["Content-Disposition"] == (
        f'attachment; filename="invoice-{invoice.number}.pdf"'
    )
    assert invoice.number in pdf_text(first.data)


def test_quote_credit_note_and_statement_downloads(login: Any, owner: Any, customer: Client):
    quote = factories.draft(owner, customer, kind=factories.DocumentKind.QUOTE)
    invoice = invoice_with_tax(owner, customer)
    client = login(Role.VIEWER)

    assert "DRAFT" in pdf_text(client.get(f"/app/quotes/{quote.public_id}/pdf").data)
    statement = client.get(
        f"/app/clients/{customer.public_id}/statement.pdf?from=2000-01-01&to=2100-12-31"
    )
    assert statement.status_code == 200
    assert invoice.number in pdf_text(statement.data)
    assert client.get(f"/app/clients/{customer.public_id}/statement.pdf?from=x").status_code == 400
    # a kind's route does not serve another kind
    assert client.get(f"/app/credit-notes/{invoice.public_id}/pdf").status_code == 404


def test_another_business_gets_404(login: Any, db: Any):
    other = make_team("Other Co")
    other_owner = other.actor(Role.OWNER)
    invoice = invoice_with_tax(other_owner, factories.client(other_owner))
    client = login(Role.OWNER)

    assert client.get(f"/app/invoices/{invoice.public_id}/pdf").status_code == 404


def test_logged_out_is_sent_to_log_in(client: FlaskClient, owner: Any, customer: Client):
    invoice = draft_invoice(owner, customer)
    response = client.get(f"/app/invoices/{invoice.public_id}/pdf")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/app/settings/branding/"),
        ("post", "/app/settings/branding/"),
        ("post", "/app/settings/branding/logo"),
        ("post", "/app/settings/branding/logo/delete"),
        ("get", "/app/settings/branding/templates/invoice"),
        ("post", "/app/settings/branding/templates/invoice"),
        ("post", "/app/settings/branding/templates/invoice/preview"),
        ("post", "/app/settings/branding/templates/invoice/reset"),
    ],
)
@pytest.mark.parametrize("role", [Role.STAFF, Role.ACCOUNTANT])
def test_staff_and_accountants_cannot_change_branding(
    login: Any, method: str, path: str, role: Role
):
    response = getattr(login(role), method)(path)
    assert response.status_code == 403


def test_an_admin_saves_colours_and_a_bad_colour_is_shown_beside_its_field(login: Any, team: Team):
    client = login(Role.ADMIN)
    form = {
        "design": "modern",
        "brand_color": "#AA0000",
        "accent_color": "#111111",
        "font": "IBM Plex Sans",
        "footer_text": "Acme Ltd · Registered in Wales",
        "payment_instructions": "IBAN DE00 1234",
    }

    saved = client.post("/app/settings/branding/", data=form)
    bad = client.post("/app/settings/branding/", data=form | {"accent_color": "red"})

    assert saved.status_code == 303
    assert team.business.brand_color == "#aa0000" and team.business.design == "modern"
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'id="accent_color-error">Enter a colour as #rrggbb' in page
    assert team.business.accent_color == "#111111"  # nothing written


def test_logo_upload_through_the_page(login: Any, team: Team):
    client = login(Role.ADMIN)

    good = client.post(
        "/app/settings/branding/logo",
        data={"logo": (io.BytesIO(image_bytes("PNG")), "logo.png")},
        content_type="multipart/form-data",
    )
    disguised = client.post(
        "/app/settings/branding/logo",
        data={"logo": (io.BytesIO(image_bytes("GIF")), "logo.png")},
        content_type="multipart/form-data",
    )

    assert good.status_code == 303
    assert team.business.logo_media_type == "image/png"
    assert disguised.status_code == 422
    assert "Upload a PNG, JPEG or SVG image." in disguised.get_data(as_text=True)
    assert team.business.logo == image_bytes("PNG")  # the good one stays
    page = client.get("/app/settings/branding/").get_data(as_text=True)
    assert 'src="data:image/png;base64,' in page


def test_the_template_editor_previews_and_refuses_broken_templates(login: Any, team: Team):
    client = login(Role.ADMIN)
    url = "/app/settings/branding/templates/invoice"
    branding.save_template(team.actor(Role.ADMIN), "invoice", "Saved {{ client.name }}")

    preview = client.post(f"{url}/preview", data={"body": "Hi **{{ client.name }}**"})
    broken_preview = client.post(f"{url}/preview", data={"body": "a\n{{ config }}"})
    broken_save = client.post(url, data={"body": "a\n{% if %}"})

    assert "Hi <strong>Blue Harbor GmbH</strong>" in preview.get_data(as_text=True)
    assert "Line 2: “config” is not a placeholder." in broken_preview.get_data(as_text=True)
    assert broken_save.status_code == 422
    assert "Line 2: Syntax error" in broken_save.get_data(as_text=True)
    saved = branding.template_for(team.actor(Role.ADMIN), "invoice")
    assert saved is not None and saved.body == "Saved {{ client.name }}"
    assert client.get("/app/settings/branding/templates/nope").status_code == 404
