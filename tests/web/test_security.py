"""Headers, scripts, CSRF, cookies, error pages and escaping, as a browser would meet them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.extensions import db as _db
from portal.models import AuditEvent, Client, Role
from portal.services import catalogue, clients
from portal.services.catalogue import ProductData, TaxRateData
from portal.services.clients import ClientData, ContactData
from tests.conftest import PASSWORD, Team
from tests.web.helpers import count, heading, log_in, text_of

CSRF_MESSAGE = "The form expired or came from another site. Reload the page and try again."
XSS = "<script>alert(1)</script>"


def _csp(response: Any) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _set_cookie(response: Any, name: str) -> list[str]:
    """The attributes of the named cookie in Set-Cookie, lower-cased, value dropped."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return [part.strip().lower() for part in header.split(";")[1:]]
    raise AssertionError(f"no {name} cookie set: {response.headers.getlist('Set-Cookie')}")


@pytest.fixture
def blue(team: Team) -> Any:
    return clients.create_client(
        team.actor(),
        ClientData(
            name="Blue Harbor",
            currency="EUR",
            email="ap@blue.example",
            tags=("retainer",),
            contacts=(ContactData("Anna Berg", "anna@blue.example"),),
        ),
    )


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/login", {}),
        ("/app/clients/", {}),
        ("/app/clients/", {"HX-Request": "true"}),
        ("/no/such/page", {}),
    ],
    ids=["public page", "app page", "htmx fragment", "error page"],
)
def test_security_headers(url: str, headers: dict[str, str], blue: Any, login: Any) -> None:
    client = login(Role.VIEWER)
    response = client.get(url, headers=headers)
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp.get("script-src", [])
    assert "'unsafe-eval'" not in csp.get("script-src", [])
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    # Cookies here are not Secure (plain http in tests), so no HSTS either.
    assert "Strict-Transport-Security" not in response.headers


PUBLIC_PAGES = ["/login", "/signup", "/password/forgot", "/no/such/page"]
PAGES = [
    *PUBLIC_PAGES,
    "/app/",
    "/app/clients/",
    "/app/clients/?q=blue",
    "/app/clients/new",
    "/app/clients/{client}",
    "/app/clients/{client}/edit",
    "/app/clients/contact-row?index=1",
    "/app/tax-rates",
    "/app/tax-rates/new",
    "/app/products",
    "/app/products/{product}/edit",
    "/app/team",
    "/app/settings/",
    "/app/clients/0123456789abcdef",
]


@pytest.fixture
def product(team: Team) -> Any:
    rate = catalogue.create_tax_rate(team.actor(), TaxRateData(name="VAT", rate=Decimal(20)))
    return catalogue.create_product(
        team.actor(),
        ProductData(
            name="Design", unit_price=Decimal(100), currency="EUR", tax_rate_ids=(rate.public_id,)
        ),
    )


@pytest.mark.parametrize("url", PAGES)
def test_no_inline_script(
    url: str, blue: Any, product: Any, client: FlaskClient, login: Any
) -> None:
    if url not in PUBLIC_PAGES:
        login(Role.OWNER)
    response = client.get(url.format(client=blue.public_id, product=product.public_id))
    html = text_of(response)
    assert response.status_code in {200, 404}
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script\s*>", html, re.S | re.I)
    for attributes, body in scripts:
        assert re.search(r'\bsrc="/static/[^"]+"', attributes), attributes
        assert body.strip() == ""
    assert len(scripts) == html.lower().count("<script")
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html, re.I), "inline event handler"
    assert "javascript:" not in html.lower()


def test_every_page_has_its_scripts(login: Any) -> None:
    """The test above must not pass because the scripts are missing."""
    html = text_of(login(Role.OWNER).get("/app/"))
    sources = re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', html)
    assert "/static/js/app.js" in sources
    assert any(re.fullmatch(r"/static/vendor/htmx-[\d.]+\.min\.js", s) for s in sources)


# --- CSRF ----------------------------------------------------------------------------------


def test_a_post_without_a_token_is_refused_and_writes_nothing(login: Any) -> None:
    client = login(Role.STAFF)
    events = count(AuditEvent)
    response = client.post(
        "/app/clients/new", data={"name": "Forged", "currency": "EUR"}, csrf=False
    )
    assert response.status_code == 400
    assert CSRF_MESSAGE in text_of(response)
    assert (count(Client), count(AuditEvent)) == (0, events)


def test_an_htmx_post_without_a_token_is_refused(blue: Any, login: Any) -> None:
    client = login(Role.STAFF)
    response = client.post(
        f"/app/clients/{blue.public_id}/archive", headers={"HX-Request": "true"}, csrf=False
    )
    assert response.status_code == 400
    html = text_of(client.get(f"/app/clients/{blue.public_id}"))
    assert "Archived" not in html


def test_a_forged_token_is_refused(blue: Any, login: Any) -> None:
    client = login(Role.STAFF)
    response = client.post(
        f"/app/clients/{blue.public_id}/archive",
        headers={"X-CSRFToken": "forged.token.value"},
        csrf=False,
    )
    assert response.status_code == 400
    assert CSRF_MESSAGE in text_of(response)


def test_log_in_without_a_token_is_refused(client: FlaskClient, team: Team) -> None:
    response = client.post(
        "/login", data={"email": "owner@acme-ltd.example", "password": PASSWORD}, csrf=False
    )
    assert response.status_code == 400
    assert client.get("/app/").status_code == 302


def _body_token(html: str) -> str:
    body = re.search(r"<body\b[^>]*\bhx-headers='([^']*)'", html)
    assert body, "the body carries no hx-headers"
    headers = json.loads(body.group(1))
    assert set(headers) == {"X-CSRFToken"}
    return str(headers["X-CSRFToken"])


def test_htmx_requests_carry_the_token_from_the_body(blue: Any, login: Any) -> None:
    client = login(Role.STAFF)
    token = _body_token(text_of(client.get(f"/app/clients/{blue.public_id}")))
    response = client.post(
        f"/app/clients/{blue.public_id}/archive",
        headers={"HX-Request": "true", "X-CSRFToken": token},
        csrf=False,
    )
    assert response.status_code == 200
    assert "is archived." in text_of(response)


def test_forms_carry_the_token_as_a_field(blue: Any, login: Any) -> None:
    client = login(Role.STAFF)
    html = text_of(client.get(f"/app/clients/{blue.public_id}"))
    form = re.search(r'<form method="post" action="([^"]*/archive)".*?</form>', html, re.S)
    assert form, html
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(0))
    assert token
    response = client.post(form.group(1), data={"csrf_token": token.group(1)}, csrf=False)
    assert response.status_code == 303


def test_the_login_page_has_the_token_too(client: FlaskClient, db: Any) -> None:
    assert _body_token(text_of(client.get("/login")))


# --- cookies -------------------------------------------------------------------------------


def test_the_session_cookie_is_http_only_and_same_site_lax(client: FlaskClient, team: Team) -> None:
    response = log_in(client, "owner@acme-ltd.example", PASSWORD)
    assert response.status_code == 303
    attributes = _set_cookie(response, "session")
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "secure" not in attributes  # the test app runs on plain http


@pytest.fixture
def production_app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app as ``wsgi.py`` builds it in production: nothing said about cookies."""
    monkeypatch.delenv("INVOICE_LITE_SECURE_COOKIES", raising=False)
    monkeypatch.delenv("INVOICE_LITE_ENV", raising=False)
    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "x" * 40,
            "SQLALCHEMY_DATABASE_URI": database_url,
        }
    )
    yield app
    with app.app_context():
        _db.engine.dispose()


def test_production_cookies_are_secure(production_app: Flask) -> None:
    assert production_app.config["SESSION_COOKIE_SECURE"] is True
    assert production_app.config["REMEMBER_COOKIE_SECURE"] is True
    response = production_app.test_client().get("/login", base_url="https://invoices.example")
    assert response.status_code == 200
    attributes = _set_cookie(response, "session")
    assert "secure" in attributes
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_production_needs_a_secret_key(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOICE_LITE_SECRET_KEY", raising=False)
    monkeypatch.delenv("INVOICE_LITE_ENV", raising=False)
    with pytest.raises(RuntimeError, match=re.escape("INVOICE_LITE_SECRET_KEY is not set")):
        create_app({"ENV_NAME": "production", "SQLALCHEMY_DATABASE_URI": database_url})


# --- error pages ---------------------------------------------------------------------------


def test_an_unknown_url_shows_not_found(client: FlaskClient, db: Any) -> None:
    response = client.get("/no/such/page")
    html = text_of(response)
    assert response.status_code == 404
    assert heading(html) == "Not found"
    assert "There is nothing here. It may have been moved or never existed." in html
    assert "Traceback" not in html


def test_an_unknown_client_shows_not_found(login: Any) -> None:
    response = login(Role.VIEWER).get("/app/clients/0123456789abcdef")
    assert response.status_code == 404
    assert heading(text_of(response)) == "Not found"
    assert "No such client." in text_of(response)


def test_a_wrong_method_is_405(login: Any) -> None:
    response = login(Role.STAFF).get("/app/team/invite")
    assert response.status_code == 405
    assert "This address does not accept that kind of request." in text_of(response)


# --- escaping ------------------------------------------------------------------------------


def test_a_script_in_a_client_name_is_shown_as_text(login: Any) -> None:
    client = login(Role.STAFF)
    response = client.post(
        "/app/clients/new",
        data={
            "name": XSS,
            "currency": "EUR",
            "payment_terms_days": "30",
            "language": "en",
            "tags": "<b>bold</b>",
            "notes": '"><img src=x onerror=alert(1)>',
            "contacts-0-name": "<i>Anna</i>",
        },
    )
    assert response.status_code == 303, text_of(response)
    detail_url = response.headers["Location"]
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for url in (
        "/app/clients/",
        "/app/clients/?q=script",
        detail_url,
        f"{detail_url}/edit",
    ):
        html = text_of(client.get(url))
        assert XSS not in html, url
        assert "<b>bold</b>" not in html, url
        assert "<img src=x" not in html, url
        assert "<i>Anna</i>" not in html, url
        assert escaped in html, url
    detail = text_of(client.get(detail_url))
    assert f"<title>{escaped} · Invoice Lite</title>" in detail
    assert f"<h1>{escaped}</h1>" in detail
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in detail


def test_a_script_in_the_search_box_is_shown_as_text(login: Any) -> None:
    html = text_of(login(Role.VIEWER).get("/app/clients/", query_string={"q": XSS}))
    assert XSS not in html
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in html
