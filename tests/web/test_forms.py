"""Every form: bad input comes back 422 with the message beside the field and nothing written."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.models import (
    AuditEvent,
    Business,
    Client,
    Contact,
    Invitation,
    Product,
    Role,
    TaxRate,
    User,
)
from portal.services import catalogue, clients
from portal.services.catalogue import ProductData, TaxRateData
from portal.services.clients import ClientData, ContactData
from tests.conftest import Team, make_team
from tests.web.helpers import all_errors, count, errors_beside, heading, text_of, toasts

REQUIRED = "This field is required."
BAD_EMAIL = "Invalid email address."
NOT_A_CHOICE = "Not a valid choice."


def badge(html: str) -> str | None:
    """The client's status as its badge shows it."""
    found = re.search(r'<span[^>]*class="badge (?:active|archived)"[^>]*>(.*?)</span>', html)
    return found.group(1) if found else None


def _with(base: dict[str, str], **changes: str) -> dict[str, str]:
    return {**base, **changes}


def _input_value(html: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    if tag is None:
        return None
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return unescape(value.group(1)) if value else ""


def _checked(html: str, name: str) -> bool:
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert tag, name
    return re.search(r"\schecked\b", tag.group(0)) is not None


# --- sign-up -------------------------------------------------------------------------------

SIGNUP = {
    "name": "Ada Lovelace",
    "email": "ada@lovelace.example",
    "password": "analytical engine",
    "business_name": "Lovelace Ltd",
    "base_currency": "EUR",
    "time_zone": "Europe/London",
    "locale": "en",
}

SIGNUP_ERRORS = [
    pytest.param({"name": ""}, "name", REQUIRED, id="missing name"),
    pytest.param({"email": ""}, "email", REQUIRED, id="missing email"),
    pytest.param({"password": ""}, "password", REQUIRED, id="missing password"),
    pytest.param({"business_name": ""}, "business_name", REQUIRED, id="missing business"),
    pytest.param({"email": "ada.lovelace"}, "email", BAD_EMAIL, id="bad email"),
    pytest.param(
        {"password": "short"},
        "password",
        "Field must be between 10 and 200 characters long.",
        id="short password",
    ),
    pytest.param(
        {"email": "Owner@Acme-Ltd.example"},
        "email",
        "An account with this email already exists; log in instead.",
        id="email taken",
    ),
    pytest.param({"base_currency": "EURO"}, "base_currency", NOT_A_CHOICE, id="unknown currency"),
    pytest.param({"time_zone": "Mars/Olympus"}, "time_zone", NOT_A_CHOICE, id="unknown zone"),
    pytest.param({"locale": "xx"}, "locale", NOT_A_CHOICE, id="unknown language"),
]


@pytest.mark.parametrize(("changes", "field", "message"), SIGNUP_ERRORS)
def test_sign_up_with_bad_input(
    changes: dict[str, str], field: str, message: str, client: FlaskClient, team: Team
) -> None:
    users, businesses = count(User), count(Business)
    response = client.post("/signup", data=_with(SIGNUP, **changes))
    html = text_of(response)
    assert response.status_code == 422
    assert errors_beside(html, field) == [message]
    assert all_errors(html) == [message]
    assert (count(User), count(Business)) == (users, businesses)
    assert client.get("/app/").status_code == 302  # not logged in


def test_sign_up_with_nothing_filled_in_names_every_required_field(
    client: FlaskClient, db: Any
) -> None:
    response = client.post("/signup", data={})
    html = text_of(response)
    assert response.status_code == 422
    for field in ("name", "email", "password", "business_name"):
        assert errors_beside(html, field) == [REQUIRED], field
    assert count(User) == 0


def test_a_rejected_sign_up_keeps_what_was_typed_but_not_the_password(
    client: FlaskClient, db: Any
) -> None:
    html = text_of(client.post("/signup", data=_with(SIGNUP, email="nope")))
    assert _input_value(html, "business_name") == "Lovelace Ltd"
    assert _input_value(html, "email") == "nope"
    assert _input_value(html, "password") == ""


# --- clients -------------------------------------------------------------------------------

CLIENT = {
    "name": "Blue Harbor GmbH",
    "email": "billing@blueharbor.example",
    "currency": "EUR",
    "payment_terms_days": "30",
    "language": "de",
    "tags": "retainer, design",
    "contacts-0-name": "Anna Berg",
    "contacts-0-email": "anna@blueharbor.example",
    "contacts-0-is_primary": "y",
    "contacts-1-name": "Ben Novak",
    "contacts-1-email": "ben@blueharbor.example",
}

CLIENT_ERRORS = [
    pytest.param({"name": ""}, "name", REQUIRED, id="missing name"),
    pytest.param({"name": "   "}, "name", "A client needs a name.", id="blank name"),
    pytest.param(
        {"name": "x" * 201},
        "name",
        "Field cannot be longer than 200 characters.",
        id="name of 201 characters",
    ),
    pytest.param({"email": "billing.blueharbor"}, "email", BAD_EMAIL, id="bad email"),
    pytest.param(
        {"email": "AP@Existing.example"},
        "email",
        "Another client of this business already uses this email.",
        id="duplicate email",
    ),
    pytest.param({"currency": "EURO"}, "currency", NOT_A_CHOICE, id="unknown currency"),
    pytest.param(
        {"payment_terms_days": "366"},
        "payment_terms_days",
        "Number must be between 0 and 365.",
        id="terms too long",
    ),
    pytest.param(
        {"payment_terms_days": "-1"},
        "payment_terms_days",
        "Number must be between 0 and 365.",
        id="negative terms",
    ),
    pytest.param(
        {"payment_terms_days": "soon"},
        "payment_terms_days",
        "Not a valid integer value.",
        id="terms not a number",
    ),
    pytest.param(
        {"tags": "retainer, " + "x" * 41},
        "tags",
        "Tag 'xxxxxxxxxxxxxxxxxxxx'… is longer than 40 characters.",
        id="tag too long",
    ),
    pytest.param(
        {"contacts-1-email": "ben.novak"}, "contacts-1-email", BAD_EMAIL, id="bad contact email"
    ),
    pytest.param(
        {"contacts-1-name": ""},
        "contacts-1-name",
        "A contact needs a name.",
        id="contact without a name",
    ),
    pytest.param(
        {"contacts-0-name": "", "contacts-0-email": "", "contacts-1-name": ""},
        "contacts-1-name",
        "A contact needs a name.",
        id="nameless contact after a blank row",
    ),
]


@pytest.fixture
def existing_client(app: Flask, team: Team) -> Any:
    return clients.create_client(
        team.actor(),
        ClientData(
            name="Existing AG",
            currency="EUR",
            email="ap@existing.example",
            tags=("design",),
            contacts=(ContactData("Eva Existing", "eva@existing.example"),),
        ),
    )


@pytest.mark.parametrize(("changes", "field", "message"), CLIENT_ERRORS)
@pytest.mark.parametrize("form", ["new", "edit"])
def test_client_form_with_bad_input(
    form: str,
    changes: dict[str, str],
    field: str,
    message: str,
    existing_client: Any,
    team: Team,
    login: Any,
) -> None:
    url = "/app/clients/new"
    if form == "edit":
        target = clients.create_client(team.actor(), ClientData(name="Target", currency="EUR"))
        url = f"/app/clients/{target.public_id}/edit"
    client = login(Role.STAFF)
    rows = (count(Client), count(Contact), count(AuditEvent))
    response = client.post(url, data=_with(CLIENT, **changes))
    html = text_of(response)
    assert response.status_code == 422
    assert errors_beside(html, field) == [message]
    assert all_errors(html) == [message]
    assert (count(Client), count(Contact), count(AuditEvent)) == rows


def test_a_tag_of_40_characters_is_fine(login: Any) -> None:
    client = login(Role.STAFF)
    response = client.post("/app/clients/new", data=_with(CLIENT, tags="retainer, " + "x" * 40))
    assert response.status_code == 303, all_errors(text_of(response))
    html = text_of(client.get(response.headers["Location"]))
    assert f'<span class="tag">{"x" * 40}</span>' in html


def test_two_primary_contacts_are_refused(existing_client: Any, login: Any) -> None:
    client = login(Role.STAFF)
    rows = (count(Client), count(Contact))
    response = client.post("/app/clients/new", data=_with(CLIENT, **{"contacts-1-is_primary": "y"}))
    html = text_of(response)
    assert response.status_code == 422
    # Shown once, above the contact rows it is about.
    assert all_errors(html) == ["Only one contact can be the primary billing contact."]
    section = html[html.index("<h2>Contacts</h2>") : html.index('<div id="contacts">')]
    assert "Only one contact can be the primary billing contact." in section
    assert (count(Client), count(Contact)) == rows


def test_the_same_client_email_is_fine_in_another_business(
    existing_client: Any, login: Any
) -> None:
    stranger = make_team("Other Co")
    client = login(Role.OWNER, who=stranger)
    response = client.post("/app/clients/new", data=_with(CLIENT, email="ap@existing.example"))
    assert response.status_code == 303
    assert count(Client) == 2


# --- tax rates -----------------------------------------------------------------------------

TAX_RATE = {"name": "Reduced", "rate": "7", "category": "S"}
BAD_RATE = "A tax rate must be between 0 and 100 %."

TAX_RATE_ERRORS = [
    pytest.param({"rate": "101"}, "rate", BAD_RATE, id="101 %"),
    pytest.param({"rate": "-1"}, "rate", BAD_RATE, id="-1 %"),
    pytest.param({"rate": "100.0001"}, "rate", BAD_RATE, id="just above 100 %"),
    pytest.param({"rate": "seven"}, "rate", "Not a valid decimal value.", id="not a number"),
    pytest.param(
        {"rate": "7.12345"}, "rate", "A tax rate has at most four decimal places.", id="5 decimals"
    ),
    pytest.param({"name": ""}, "name", REQUIRED, id="missing name"),
    pytest.param({"name": "VAT"}, "name", "Another tax rate already has this name.", id="dup"),
    pytest.param({"category": "X"}, "category", NOT_A_CHOICE, id="unknown category"),
    pytest.param(
        {"category": "E"},
        "rate",
        "The category E (Exempt) has a rate of 0 %.",
        id="exempt with a rate",
    ),
]


@pytest.fixture
def vat(team: Team) -> Any:
    return catalogue.create_tax_rate(team.actor(), TaxRateData(name="VAT", rate=Decimal("20")))


@pytest.mark.parametrize(("changes", "field", "message"), TAX_RATE_ERRORS)
@pytest.mark.parametrize("form", ["new", "edit"])
def test_tax_rate_form_with_bad_input(
    form: str,
    changes: dict[str, str],
    field: str,
    message: str,
    vat: Any,
    team: Team,
    login: Any,
) -> None:
    url = "/app/tax-rates/new"
    if form == "edit":
        zero = catalogue.create_tax_rate(team.actor(), TaxRateData(name="Zero", rate=Decimal(0)))
        url = f"/app/tax-rates/{zero.public_id}/edit"
    client = login(Role.ACCOUNTANT)
    rows = (count(TaxRate), count(AuditEvent))
    response = client.post(url, data=_with(TAX_RATE, **changes))
    html = text_of(response)
    assert response.status_code == 422
    assert errors_beside(html, field) == [message]
    assert all_errors(html) == [message]
    assert (count(TaxRate), count(AuditEvent)) == rows


def test_a_tax_rate_of_0_and_of_100_percent_are_fine(login: Any, db: Any) -> None:
    client = login(Role.ACCOUNTANT)
    for name, rate in (("Zero", "0"), ("All", "100"), ("Swiss", "8.1000")):
        response = client.post("/app/tax-rates/new", data=_with(TAX_RATE, name=name, rate=rate))
        assert response.status_code == 303, text_of(response)
        assert response.headers["Location"] == "/app/tax-rates"
    html = text_of(client.get("/app/tax-rates"))
    assert '<td>Swiss</td><td class="num">8.1 %</td>' in html
    assert count(TaxRate) == 3


# --- products ------------------------------------------------------------------------------

PRODUCT = {"name": "Logo design", "unit_price": "450.00", "currency": "EUR", "unit": "piece"}

PRODUCT_ERRORS = [
    pytest.param(
        {"unit_price": "-1"}, "unit_price", "The price cannot be negative.", id="negative price"
    ),
    pytest.param(
        {"unit_price": "1.234"},
        "unit_price",
        "EUR amounts have at most 2 decimal places.",
        id="1.234 EUR",
    ),
    pytest.param(
        {"unit_price": "1.5", "currency": "JPY"},
        "unit_price",
        "JPY amounts have at most 0 decimal places.",
        id="1.5 JPY",
    ),
    pytest.param(
        {"unit_price": "1.0005", "currency": "BHD"},
        "unit_price",
        "BHD amounts have at most 3 decimal places.",
        id="1.0005 BHD",
    ),
    pytest.param({"unit_price": ""}, "unit_price", REQUIRED, id="missing price"),
    pytest.param(
        {"unit_price": "lots"}, "unit_price", "Not a valid decimal value.", id="price not a number"
    ),
    pytest.param({"currency": "EURO"}, "currency", NOT_A_CHOICE, id="unknown currency"),
    pytest.param({"name": ""}, "name", REQUIRED, id="missing name"),
    pytest.param(
        {"name": "Consulting"}, "name", "Another product already has this name.", id="dup name"
    ),
    pytest.param(
        {"tax_rates": "nope"},
        "tax_rates",
        "'nope' is not a valid choice for this field.",
        id="unknown tax rate",
    ),
]


@pytest.fixture
def consulting(team: Team, vat: Any) -> Any:
    return catalogue.create_product(
        team.actor(),
        ProductData(name="Consulting", unit_price=Decimal("120"), currency="EUR"),
    )


@pytest.mark.parametrize(("changes", "field", "message"), PRODUCT_ERRORS)
@pytest.mark.parametrize("form", ["new", "edit"])
def test_product_form_with_bad_input(
    form: str,
    changes: dict[str, str],
    field: str,
    message: str,
    consulting: Any,
    team: Team,
    login: Any,
) -> None:
    url = "/app/products/new"
    if form == "edit":
        hosting = catalogue.create_product(
            team.actor(), ProductData(name="Hosting", unit_price=Decimal(9), currency="EUR")
        )
        url = f"/app/products/{hosting.public_id}/edit"
    client = login(Role.ACCOUNTANT)
    rows = (count(Product), count(AuditEvent))
    response = client.post(url, data=_with(PRODUCT, **changes))
    html = text_of(response)
    assert response.status_code == 422
    assert errors_beside(html, field) == [message]
    assert all_errors(html) == [message]
    assert (count(Product), count(AuditEvent)) == rows


def test_a_tax_rate_of_another_business_cannot_be_chosen(consulting: Any, login: Any) -> None:
    stranger = make_team("Other Co")
    theirs = catalogue.create_tax_rate(
        stranger.actor(), TaxRateData(name="Their VAT", rate=Decimal(19))
    )
    client = login(Role.ACCOUNTANT)
    response = client.post("/app/products/new", data=_with(PRODUCT, tax_rates=theirs.public_id))
    assert response.status_code == 422
    assert errors_beside(text_of(response), "tax_rates") == [
        f"'{theirs.public_id}' is not a valid choice for this field."
    ]
    assert count(Product) == 1


def test_a_product_is_stored_in_minor_units_and_shown_in_its_currency(vat: Any, login: Any) -> None:
    client = login(Role.ACCOUNTANT)
    for data in (
        _with(PRODUCT, tax_rates=vat.public_id),
        _with(PRODUCT, name="Stamp", unit_price="120", currency="JPY"),
    ):
        response = client.post("/app/products/new", data=data)
        assert response.status_code == 303, text_of(response)
    html = text_of(client.get("/app/products"))
    assert '<td class="num">€450.00</td>' in html
    assert '<td class="num">¥120</td>' in html
    assert '<span class="tag">VAT</span>' in html


# --- team invitations ----------------------------------------------------------------------

INVITE_ERRORS = [
    pytest.param({"email": "new.person"}, "email", BAD_EMAIL, id="bad email"),
    pytest.param({"email": ""}, "email", REQUIRED, id="missing email"),
    pytest.param({"role": "owner"}, "role", NOT_A_CHOICE, id="role owner"),
    pytest.param({"role": "boss"}, "role", NOT_A_CHOICE, id="unknown role"),
    pytest.param(
        {"email": "Staff@Acme-Ltd.example"},
        "email",
        "This person is already a member of the business.",
        id="already a member",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message"), INVITE_ERRORS)
def test_team_invite_with_bad_input(
    changes: dict[str, str], field: str, message: str, login: Any, inbox: Any
) -> None:
    client = login(Role.ADMIN)
    response = client.post(
        "/app/team/invite",
        data=_with({"email": "new@acme-ltd.example", "role": "staff"}, **changes),
    )
    html = text_of(response)
    assert response.status_code == 422
    assert heading(html) == "Team"
    assert errors_beside(html, field) == [message]
    assert all_errors(html) == [message]
    assert count(Invitation) == 0
    assert inbox.deliveries == []


# --- business settings ---------------------------------------------------------------------

SETTINGS = {
    "legal_name": "Acme Ltd",
    "address_line1": "1 Main Street",
    "city": "Dublin",
    "postal_code": "D01",
    "country": "ie",
    "tax_id": "IE1234567T",
    "base_currency": "EUR",
    "time_zone": "UTC",
    "locale": "en",
}

SETTINGS_ERRORS = [
    pytest.param({"legal_name": ""}, "legal_name", REQUIRED, id="missing name"),
    pytest.param(
        {"legal_name": "  "}, "legal_name", "The business needs a legal name.", id="blank name"
    ),
    pytest.param(
        {"country": "IRL"}, "country", "Field must be exactly 2 characters long.", id="country"
    ),
    pytest.param({"base_currency": "EURO"}, "base_currency", NOT_A_CHOICE, id="currency"),
    pytest.param({"time_zone": "Mars/Olympus"}, "time_zone", NOT_A_CHOICE, id="time zone"),
    pytest.param({"locale": "xx"}, "locale", NOT_A_CHOICE, id="language"),
    pytest.param(
        {"legal_name": "x" * 201},
        "legal_name",
        "Field cannot be longer than 200 characters.",
        id="long name",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message"), SETTINGS_ERRORS)
def test_business_settings_with_bad_input(
    changes: dict[str, str], field: str, message: str, login: Any
) -> None:
    client = login(Role.ADMIN)
    events = count(AuditEvent)
    response = client.post("/app/settings/", data=_with(SETTINGS, **changes))
    html = text_of(response)
    assert response.status_code == 422
    assert errors_beside(html, field) == [message]
    assert all_errors(html) == [message]
    assert count(AuditEvent) == events
    assert heading(text_of(client.get("/app/"))) == "Acme Ltd"


def test_business_settings_are_saved(login: Any) -> None:
    client = login(Role.ADMIN)
    response = client.post("/app/settings/", data=_with(SETTINGS, legal_name="Acme Holdings"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/settings/"
    html = text_of(client.get("/app/settings/"))
    assert toasts(html) == ["Business settings saved."]
    assert _input_value(html, "legal_name") == "Acme Holdings"
    assert _input_value(html, "country") == "IE"
    assert heading(text_of(client.get("/app/"))) == "Acme Holdings"


# --- clients: the happy paths --------------------------------------------------------------


def _client_id(location: str) -> str:
    found = re.fullmatch(r"/app/clients/([0-9A-Z]{26})", location)
    assert found, location
    return found.group(1)


def test_create_a_client_with_two_contacts(login: Any) -> None:
    client = login(Role.STAFF)
    # The second contact is the primary one; an unticked box is simply not posted.
    data = _with(CLIENT, **{"contacts-1-is_primary": "y"})
    del data["contacts-0-is_primary"]
    response = client.post("/app/clients/new", data=data)
    assert response.status_code == 303, text_of(response)
    public_id = _client_id(response.headers["Location"])

    html = text_of(client.get(f"/app/clients/{public_id}"))
    assert heading(html) == "Blue Harbor GmbH"
    assert toasts(html) == ["Client Blue Harbor GmbH created."]
    assert "<dt>Billing email</dt><dd>billing@blueharbor.example</dd>" in html
    assert '<span class="tag">design</span><span class="tag">retainer</span>' in html
    contacts = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>.*?</td><td>(.*?)</td></tr>", html)
    assert contacts == [
        (
            "Ben Novak",
            "ben@blueharbor.example",
            '<span class="badge active">Primary billing</span>',
        ),
        ("Anna Berg", "anna@blueharbor.example", ""),
    ]
    assert (count(Client), count(Contact)) == (1, 2)


def test_the_edit_form_shows_the_client_as_stored(existing_client: Any, login: Any) -> None:
    client = login(Role.STAFF)
    response = client.get(f"/app/clients/{existing_client.public_id}/edit")
    html = text_of(response)
    assert response.status_code == 200
    assert heading(html) == "Edit Existing AG"
    assert _input_value(html, "name") == "Existing AG"
    assert _input_value(html, "email") == "ap@existing.example"
    assert _input_value(html, "tags") == "design"
    assert _input_value(html, "contacts-0-name") == "Eva Existing"
    assert _input_value(html, "contacts-0-email") == "eva@existing.example"
    assert _checked(html, "contacts-0-is_primary")


def test_saving_the_edit_form_unchanged_changes_nothing(existing_client: Any, login: Any) -> None:
    client = login(Role.STAFF)
    url = f"/app/clients/{existing_client.public_id}/edit"
    html = text_of(client.get(url))
    fields = {
        name: _input_value(html, name) or ""
        for name in ("name", "email", "tags", "payment_terms_days", "contacts-0-name")
    }
    fields.update({"currency": "EUR", "language": "en", "contacts-0-is_primary": "y"})
    assert client.post(url, data=fields).status_code == 303
    detail = text_of(client.get(f"/app/clients/{existing_client.public_id}"))
    assert re.findall(r'<span class="tag">(.*?)</span>', detail) == ["design"]


def test_edit_a_client(existing_client: Any, login: Any) -> None:
    client = login(Role.STAFF)
    url = f"/app/clients/{existing_client.public_id}/edit"
    data = _with(CLIENT, name="Existing Group AG", email="AP@Existing.example", tags="")
    del data["contacts-1-name"], data["contacts-1-email"]
    response = client.post(url, data=data)
    assert response.status_code == 303, text_of(response)
    assert response.headers["Location"] == f"/app/clients/{existing_client.public_id}"

    html = text_of(client.get(response.headers["Location"]))
    assert heading(html) == "Existing Group AG"
    assert toasts(html) == ["Client Existing Group AG saved."]
    assert "<dt>Tags</dt><dd>—</dd>" in html
    assert "Anna Berg" in html
    assert "Eva Existing" not in html
    assert (count(Client), count(Contact)) == (1, 1)


HTMX = {"HX-Request": "true"}


def test_archive_and_restore_through_htmx(existing_client: Any, login: Any) -> None:
    client = login(Role.STAFF)
    public_id = existing_client.public_id

    response = client.post(f"/app/clients/{public_id}/archive", headers=HTMX)
    html = text_of(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith(f'<section id="client-{public_id}">')
    assert badge(html) == "Archived"
    assert f'hx-post="/app/clients/{public_id}/restore"' in html
    assert (
        '<div id="toasts" hx-swap-oob="beforeend"><div class="toast toast-success" '
        'role="status">Existing AG is archived.</div></div>'
    ) in html
    assert "No client matches" not in text_of(client.get("/app/clients/"))
    assert "No clients yet." in text_of(client.get("/app/clients/"))
    assert f'id="client-{public_id}"' in text_of(client.get("/app/clients/?archived=1"))

    response = client.post(f"/app/clients/{public_id}/restore", headers=HTMX)
    html = text_of(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert badge(html) == "Active"
    assert f'hx-post="/app/clients/{public_id}/archive"' in html
    assert "Existing AG is restored." in html
    assert f'id="client-{public_id}"' in text_of(client.get("/app/clients/"))


def test_archive_without_javascript_redirects_to_the_client(
    existing_client: Any, login: Any
) -> None:
    client = login(Role.STAFF)
    public_id = existing_client.public_id
    response = client.post(f"/app/clients/{public_id}/archive")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/app/clients/{public_id}"
    html = text_of(client.get(response.headers["Location"]))
    assert "<html" in html
    assert toasts(html) == ["Existing AG is archived."]
    assert badge(html) == "Archived"


def _rows(html: str) -> list[str]:
    return [
        unescape(n)
        for n in re.findall(r'<tr id="client-[0-9A-Z]+">\s*<td><a [^>]*>(.*?)</a>', html)
    ]


@pytest.fixture
def three_clients(team: Team, existing_client: Any) -> None:
    for name, contact in (("Blue Harbor GmbH", "Anna Berg"), ("Red Mill Ltd", "Carl Dorn")):
        clients.create_client(
            team.actor(),
            ClientData(name=name, currency="EUR", contacts=(ContactData(contact),)),
        )


def test_search_answers_htmx_with_the_results_fragment(three_clients: None, login: Any) -> None:
    client = login(Role.VIEWER)
    response = client.get("/app/clients/?q=harbor", headers=HTMX)
    html = text_of(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="client-results">')
    assert _rows(html) == ["Blue Harbor GmbH"]
    assert "HX-Request" in response.headers["Vary"]


def test_search_without_htmx_answers_the_whole_page(three_clients: None, login: Any) -> None:
    client = login(Role.VIEWER)
    response = client.get("/app/clients/?q=harbor")
    html = text_of(response)
    assert response.status_code == 200
    assert "<html" in html
    assert _input_value(html, "q") == "harbor"
    assert _rows(html) == ["Blue Harbor GmbH"]
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("", ["Blue Harbor GmbH", "Existing AG", "Red Mill Ltd"]),
        ("carl", ["Red Mill Ltd"]),
        ("EXISTING.example", ["Existing AG"]),
        ("%", []),
        ("_", []),
    ],
    ids=["everything", "contact name", "email, any case", "percent", "underscore"],
)
def test_search_finds(query: str, names: list[str], three_clients: None, login: Any) -> None:
    client = login(Role.VIEWER)
    html = text_of(client.get("/app/clients/", query_string={"q": query}, headers=HTMX))
    assert _rows(html) == names
    if not names:
        assert "No client matches this search." in html


def test_load_more_appends_only_rows(
    app: Flask, team: Team, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    for n in range(5):
        clients.create_client(team.actor(), ClientData(name=f"Client {n}", currency="EUR"))
    client = login(Role.VIEWER)

    html = text_of(client.get("/app/clients/?q=client"))
    assert _rows(html) == ["Client 0", "Client 1"]
    seen = []
    for expected in (["Client 2", "Client 3"], ["Client 4"]):
        more = re.search(r'<tr id="load-more">.*?hx-get="([^"]+)"', html, re.S)
        assert more, html
        url = unescape(more.group(1))
        assert "q=client" in url
        assert "after=" in url
        response = client.get(url, headers=HTMX)
        html = text_of(response)
        assert response.status_code == 200
        assert html.lstrip().startswith("<tr")
        for wrapper in ("<html", "<table", "<section", "<tbody"):
            assert wrapper not in html
        assert _rows(html) == expected
        seen += expected
    assert 'id="load-more"' not in html
    assert seen == ["Client 2", "Client 3", "Client 4"]
