"""The e-invoice pages: downloads for viewers, import for accountants, the received list."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import ReceivedDocument, Role
from tests.conftest import PASSWORD, make_team
from tests.einvoice.conftest import Shop, make_shop, vat
from tests.einvoice.test_import import supplier_invoice
from tests.services import factories as f
from tests.web.helpers import toasts


@pytest.fixture
def login_to(client: FlaskClient) -> Callable[[Shop, Role], FlaskClient]:
    def do(shop: Shop, role: Role) -> FlaskClient:
        user = shop.team.users[role]
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 303
        return client

    return do


def received_count() -> int:
    return _db.session.scalar(select(func.count()).select_from(ReceivedDocument))


@pytest.mark.parametrize(
    ("fmt", "root"),
    [("ubl", b"<Invoice"), ("xrechnung", b"<Invoice"), ("cii", b"<rsm:CrossIndustryInvoice")],
)
def test_a_viewer_downloads_an_issued_invoice(
    db: Any, login_to: Any, fmt: str, root: bytes
) -> None:
    shop = make_shop()
    doc = shop.issued(f.line(tax_rate_ids=vat(shop.vat20)), po_number="991-12345-67")
    response = login_to(shop, Role.VIEWER).get(f"/app/einvoices/{doc.public_id}/{fmt}.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{doc.number}-{fmt}.xml"'
    )
    assert root in response.data


def test_a_draft_answers_409_with_the_reason(db: Any, login_to: Any) -> None:
    shop = make_shop()
    draft = f.draft(shop.owner, shop.client)
    response = login_to(shop, Role.VIEWER).get(f"/app/einvoices/{draft.public_id}/ubl.xml")
    assert response.status_code == 409
    assert "This invoice is still a draft: issue it first" in response.get_data(as_text=True)


def test_another_business_document_is_not_found(db: Any, login_to: Any) -> None:
    shop = make_shop()
    other = make_shop("Other Co")
    doc = other.issued(f.line(tax_rate_ids=vat(other.vat20)))
    response = login_to(shop, Role.OWNER).get(f"/app/einvoices/{doc.public_id}/cii.xml")
    assert response.status_code == 404


def test_staff_may_not_import(db: Any, login_to: Any) -> None:
    shop = make_shop()
    assert login_to(shop, Role.STAFF).get("/app/einvoices/import").status_code == 403


def test_upload_a_supplier_invoice_then_see_it_received(db: Any, login_to: Any) -> None:
    shop = make_shop()
    data = supplier_invoice(shop)
    http = login_to(shop, Role.ACCOUNTANT)
    assert http.get("/app/einvoices/import").status_code == 200
    response = http.post(
        "/app/einvoices/import",
        data={"file": (io.BytesIO(data), "nordic.xml")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    page = http.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nordic Supplies AB" in page and "€100.58" in page
    assert any("from Nordic Supplies AB received" in t for t in toasts(page))
    listing = http.get("/app/einvoices/received").get_data(as_text=True)
    assert "Nordic Supplies AB" in listing and "€13.68" in listing and "€100.58" in listing


def test_a_broken_upload_shows_the_problems_table(db: Any, login_to: Any) -> None:
    shop = make_shop()
    data = supplier_invoice(shop).replace(b"EUR", b"EUX")
    http = login_to(shop, Role.ACCOUNTANT)
    response = http.post(
        "/app/einvoices/import",
        data={"file": (io.BytesIO(data), "bad.xml")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<code>BR-CL-04</code>" in page
    assert "&#39;EUX&#39; is not an ISO 4217 currency code." in page
    assert "Nothing was saved." in page and "<html" in page
    assert received_count() == 0


def test_htmx_gets_only_the_report(db: Any, login_to: Any) -> None:
    shop = make_shop()
    response = login_to(shop, Role.ACCOUNTANT).post(
        "/app/einvoices/import",
        data={"file": (io.BytesIO(b"<Invoice"), "broken.xml")},
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert page.lstrip().startswith('<section id="import-report"')
    assert "not well-formed XML" in page


def test_no_file_chosen(db: Any, login_to: Any) -> None:
    shop = make_shop()
    response = login_to(shop, Role.ACCOUNTANT).post("/app/einvoices/import", data={})
    assert response.status_code == 422
    assert "Choose a UBL or CII XML file, or a Factur-X PDF." in response.get_data(as_text=True)


def test_an_upload_over_20_mb_is_refused_with_413(db: Any, login_to: Any) -> None:
    shop = make_shop()
    http = login_to(shop, Role.ACCOUNTANT)
    limit = http.application.config["MAX_CONTENT_LENGTH"]
    assert limit == 20 * 1024 * 1024
    # A hand-built multipart body: the test client would spool a dict upload to a temp file.
    boundary = "einvoice-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.xml"\r\n'
        "Content-Type: application/xml\r\n\r\n"
    ).encode()
    body = head + b"<a>" + b" " * limit + b"</a>" + f"\r\n--{boundary}--\r\n".encode()
    response = http.post(
        "/app/einvoices/import",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    assert "The upload is too large: files of up to 20 MB are accepted." in response.get_data(
        as_text=True
    )
    assert received_count() == 0


def test_received_detail_of_another_business_is_not_found(db: Any, login_to: Any) -> None:
    shop = make_shop()
    other = make_team("Other Co")
    http = login_to(shop, Role.ACCOUNTANT)
    http.post(
        "/app/einvoices/import",
        data={"file": (io.BytesIO(supplier_invoice(shop)), "n.xml")},
        content_type="multipart/form-data",
    )
    received = _db.session.scalar(select(ReceivedDocument))
    assert http.get(f"/app/einvoices/received/{received.public_id}").status_code == 200
    source = http.get(f"/app/einvoices/received/{received.public_id}/source")
    assert source.data.startswith(b"<?xml")
    http.post("/logout")
    stranger = other.users[Role.OWNER]
    http.post("/login", data={"email": stranger.email, "password": PASSWORD})
    assert http.get(f"/app/einvoices/received/{received.public_id}").status_code == 404
