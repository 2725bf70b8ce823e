"""Settings → Email and reminders: the business's outgoing email, its test button, and the
per-client "Pause reminders" box."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import AuditEvent, Business, Client, Role
from portal.services import mail_settings, reminders
from portal.services.clients import ContactData
from tests.conftest import Team
from tests.delivery.conftest import Scripted
from tests.services import factories as f
from tests.web.helpers import all_errors, count, errors_beside, text_of

URL = "/app/settings/delivery"
SAVE = "/app/settings/delivery/email"
TEST = "/app/settings/delivery/email/test"
PUBLIC_IP = "93.184.215.14"
PASSWORD = "pa55-w0rd-never-shown"

FORM = {
    "smtp_host": "smtp.acme.example",
    "smtp_port": "2525",
    "smtp_security": "tls",
    "smtp_username": "billing@acme.example",
    "smtp_password": PASSWORD,
    "mail_from": "Acme Billing <billing@acme.example>",
    "bounce_address": "bounces@acme.example",
    "track_opens": "y",
}


def _with(**changes: str) -> dict[str, str]:
    return {**FORM, **changes}


def _stored(business: Business) -> dict[str, Any]:
    _db.session.refresh(business)
    return {
        name: getattr(business, name)
        for name in (
            "smtp_host",
            "smtp_port",
            "smtp_security",
            "smtp_username",
            "smtp_password",
            "mail_from",
            "bounce_address",
            "track_opens",
        )
    }


def _value(html: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    if tag is None:
        return None
    found = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return unescape(found.group(1)) if found else ""


def _checked(html: str, name: str) -> bool:
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert tag, name
    return re.search(r"\schecked\b", tag.group(0)) is not None


def _selected(html: str, name: str) -> str | None:
    found = re.search(rf'<select[^>]*\bname="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert found, name
    option = re.search(r'<option\b(?=[^>]*\bselected\b)[^>]*\bvalue="([^"]*)"', found.group(1))
    return option.group(1) if option else None


def _last_event() -> AuditEvent:
    event = _db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None
    return event


def _client(id_: int) -> Client:
    found = _db.session.get(Client, id_)
    assert found is not None
    return found


@pytest.fixture(autouse=True)
def public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names under acme.example resolve to a public address; nothing is connected to."""

    def resolve(host: str, port: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host.endswith("acme.example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, 0))]
        if host == "intranet.acme.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 0))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(mail_settings, "resolve", resolve)


@pytest.fixture
def loopback_allowed(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "SMTP_ALLOW_PRIVATE_HOSTS", True)


@pytest.fixture
def server(_scripted_server: tuple[Controller, Scripted], db: Any) -> Iterator[Scripted]:
    """The session's scriptable SMTP server on 127.0.0.1, emptied; the business not yet told."""
    _, handler = _scripted_server
    handler.data_answers.clear()
    handler.refuse.clear()
    handler.accepted.clear()
    handler.attempts = 0
    yield handler
    handler.refuse.clear()


# ----------------------------------------------------------------------------- saving


def test_the_form_saves_every_setting_and_shows_them_again(login: Any, team: Team) -> None:
    client = login(Role.ADMIN)
    page = text_of(client.get(URL))
    assert 'id="outgoing-email"' in page
    assert _value(page, "smtp_host") == ""
    assert _checked(page, "track_opens")  # the pixel is on until turned off
    last = _db.session.scalar(select(func.max(AuditEvent.id))) or 0

    response = client.post(SAVE, data=_with(track_opens=""))
    assert response.status_code == 303, text_of(response)
    assert response.headers["Location"].endswith("/app/settings/delivery#outgoing-email")
    assert _stored(team.business) == {
        "smtp_host": "smtp.acme.example",
        "smtp_port": 2525,
        "smtp_security": "tls",
        "smtp_username": "billing@acme.example",
        "smtp_password": PASSWORD,
        "mail_from": "Acme Billing <billing@acme.example>",
        "bounce_address": "bounces@acme.example",
        "track_opens": False,
    }
    [event] = _db.session.scalars(select(AuditEvent).where(AuditEvent.id > last))
    before, after = event.before or {}, event.after or {}
    assert event.action == "business.mail_settings_changed"
    assert after["password_set"] is True
    assert after["password_changed"] is True
    assert before["smtp_host"] == ""
    assert PASSWORD not in str(before) + str(after)

    page = text_of(client.get(URL))
    assert _value(page, "smtp_host") == "smtp.acme.example"
    assert _value(page, "smtp_port") == "2525"
    assert _selected(page, "smtp_security") == "tls"
    assert _value(page, "smtp_username") == "billing@acme.example"
    assert _value(page, "mail_from") == "Acme Billing <billing@acme.example>"
    assert _value(page, "bounce_address") == "bounces@acme.example"
    assert not _checked(page, "track_opens")
    assert "A password is saved." in page
    assert PASSWORD not in page


def test_blank_port_means_the_usual_one_and_blank_host_the_platform_s_server(
    login: Any, team: Team
) -> None:
    client = login(Role.OWNER)
    response = client.post(SAVE, data=_with(smtp_port="", smtp_security="starttls"))
    assert response.status_code == 303
    assert team.business.smtp_port == 587
    response = client.post(
        SAVE,
        data={"smtp_host": "", "smtp_port": "", "smtp_security": "tls", "track_opens": "y"},
    )
    assert response.status_code == 303, text_of(response)
    stored = _stored(team.business)
    assert stored["smtp_host"] == ""
    assert stored["smtp_port"] == 465
    assert stored["smtp_password"] == PASSWORD  # kept; unused without a server


def test_addresses_and_names_are_stored_normalised(login: Any, team: Team) -> None:
    client = login(Role.ADMIN)
    response = client.post(
        SAVE,
        data=_with(
            smtp_host="  SMTP.Acme.Example ",
            mail_from='"Acme, Inc. Billing" <billing@ACME.example>',
            bounce_address=" bounces@Acme.Example ",
        ),
    )
    assert response.status_code == 303, text_of(response)
    stored = _stored(team.business)
    assert stored["smtp_host"] == "smtp.acme.example"
    assert stored["mail_from"] == '"Acme, Inc. Billing" <billing@acme.example>'
    assert stored["bounce_address"] == "bounces@acme.example"


BAD_INPUT = [
    pytest.param(
        {"smtp_port": "0"}, "smtp_port", "Choose a port between 1 and 65535.", id="port 0"
    ),
    pytest.param(
        {"smtp_port": "65536"}, "smtp_port", "Choose a port between 1 and 65535.", id="port 65536"
    ),
    pytest.param(
        {"smtp_port": "smtp"}, "smtp_port", "Not a valid integer value.", id="port not a number"
    ),
    pytest.param(
        {"smtp_host": "smtps://smtp.acme.example"},
        "smtp_host",
        "Give the server's name only, without smtp:// or any other prefix.",
        id="host with a scheme",
    ),
    pytest.param(
        {"smtp_host": "smtp acme.example"},
        "smtp_host",
        "A server name has no spaces.",
        id="host with a space",
    ),
    pytest.param(
        {"smtp_host": "smtp.acme.example:587"},
        "smtp_host",
        "Put the port in the Port field, not after the server name.",
        id="host with a port",
    ),
    pytest.param(
        {"smtp_host": "smtp.acme.example/relay"},
        "smtp_host",
        "Give the server's name only, like smtp.example.com.",
        id="host with a path",
    ),
    pytest.param(
        {"smtp_host": "smtp!.acme.example"},
        "smtp_host",
        "Give a server name like smtp.example.com, or an IP address.",
        id="host with a bad character",
    ),
    pytest.param(
        {"smtp_host": "x" * 201},
        "smtp_host",
        "Field cannot be longer than 200 characters.",
        id="host of 201 characters",
    ),
    pytest.param(
        {"smtp_host": "nowhere.invalid"},
        "smtp_host",
        "The server nowhere.invalid could not be found.",
        id="host not found",
    ),
    pytest.param(
        {"smtp_host": "127.0.0.1"},
        "smtp_host",
        "127.0.0.1 is a loopback address: give a server on the internet.",
        id="loopback host",
    ),
    pytest.param(
        {"smtp_host": "intranet.acme.test"},
        "smtp_host",
        "intranet.acme.test is a private address: give a server on the internet.",
        id="name of a private address",
    ),
    pytest.param(
        {"smtp_security": "ssl"},
        "smtp_security",
        "Choose STARTTLS, TLS from the start, or none.",
        id="unknown security",
    ),
    pytest.param(
        {"smtp_security": "none"},
        "smtp_security",
        "Without encryption the password would cross the network readable: choose STARTTLS or TLS.",
        id="password without encryption",
    ),
    pytest.param(
        {"smtp_password": "", "clear_password": "y"},
        "smtp_password",
        "Give the password for this username.",
        id="username without a password",
    ),
    pytest.param(
        {"smtp_username": ""},
        "smtp_username",
        "Give the username that goes with the password.",
        id="password without a username",
    ),
    pytest.param(
        {"clear_password": "y"},
        "clear_password",
        "Type a new password or remove the saved one, not both.",
        id="new password and remove it",
    ),
    pytest.param(
        {"mail_from": "billing.acme.example"},
        "mail_from",
        "Give an address like billing@example.com, or Acme Billing <billing@example.com>.",
        id="from without @",
    ),
    pytest.param(
        {"mail_from": "billing@acme"},
        "mail_from",
        "The part after the @-sign is not valid. It should have a period.",
        id="from without a domain",
    ),
    pytest.param(
        {"mail_from": "Acme Billing <billing@acme.example"},
        "mail_from",
        "Give an address like billing@example.com, or Acme Billing <billing@example.com>.",
        id="from with a broken bracket",
    ),
    pytest.param(
        {"mail_from": "billing@acme.example, boss@acme.example"},
        "mail_from",
        "Give one address, not several.",
        id="two from addresses",
    ),
    pytest.param(
        {"bounce_address": "Bounces <bounces@acme.example>"},
        "bounce_address",
        "A display name and angle brackets around the email address are not permitted here.",
        id="bounce address with a name",
    ),
    pytest.param(
        {"bounce_address": "bounces"},
        "bounce_address",
        "An email address must have an @-sign.",
        id="bounce without @",
    ),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_INPUT)
def test_bad_input_is_named_beside_its_field_and_nothing_changes(
    changes: dict[str, str], field: str, message: str, login: Any, team: Team
) -> None:
    client = login(Role.ADMIN)
    # A business with settings already: a refused save must leave every one of them.
    assert client.post(SAVE, data=_with(smtp_password="the old one")).status_code == 303
    before, audits = _stored(team.business), count(AuditEvent)

    response = client.post(SAVE, data=_with(**changes))
    html = text_of(response)
    assert response.status_code == 422
    assert errors_beside(html, field) == [message]
    assert all_errors(html) == [message]
    assert _stored(team.business) == before
    assert count(AuditEvent) == audits
    # What was typed stays in the form, except a password.
    assert _value(html, "smtp_password") == ""
    assert PASSWORD not in html
    assert "the old one" not in html


def test_a_loopback_server_is_fine_where_the_installation_allows_it(
    login: Any, team: Team, loopback_allowed: None
) -> None:
    client = login(Role.ADMIN)
    response = client.post(
        SAVE, data=_with(smtp_host="127.0.0.1", smtp_security="none", smtp_port="25")
    )
    assert response.status_code == 303, text_of(response)  # no password over the wire: loopback
    assert team.business.smtp_host == "127.0.0.1"


def test_the_password_is_kept_when_left_blank_and_removed_only_when_asked(
    login: Any, team: Team
) -> None:
    client = login(Role.ADMIN)
    assert client.post(SAVE, data=FORM).status_code == 303

    assert client.post(SAVE, data=_with(smtp_password="", smtp_port="465")).status_code == 303
    assert _stored(team.business)["smtp_password"] == PASSWORD
    assert team.business.smtp_port == 465
    assert (_last_event().after or {})["password_changed"] is False

    assert client.post(SAVE, data=_with(smtp_password="a new one")).status_code == 303
    assert _stored(team.business)["smtp_password"] == "a new one"

    page = text_of(client.get(URL))
    assert "a new one" not in page
    assert "Remove the saved password" in page
    response = client.post(SAVE, data=_with(smtp_username="", smtp_password="", clear_password="y"))
    assert response.status_code == 303, text_of(response)
    assert _stored(team.business)["smtp_password"] == ""
    page = text_of(client.get(URL))
    assert "No password is saved." in page
    assert "Remove the saved password" not in page


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.STAFF, Role.VIEWER])
def test_only_admins_see_or_change_the_settings(role: Role, login: Any, team: Team) -> None:
    client = login(role)
    before, audits = _stored(team.business), count(AuditEvent)
    assert client.get(URL).status_code == 403
    assert client.post(SAVE, data=FORM).status_code == 403
    assert client.post(TEST).status_code == 403
    assert _stored(team.business) == before
    assert count(AuditEvent) == audits


def test_the_service_checks_the_role_too(team: Team) -> None:
    from portal.services.errors import Forbidden

    with pytest.raises(Forbidden):
        mail_settings.save_mail_settings(
            team.actor(Role.STAFF), mail_settings.MailSettings(smtp_host="smtp.acme.example")
        )
    with pytest.raises(Forbidden):
        mail_settings.send_test_email(team.actor(Role.STAFF))


# ----------------------------------------------------------------------------- the test button


def _point_at(client: Any, controller: Controller, **changes: str) -> None:
    data = {
        "smtp_host": "127.0.0.1",
        "smtp_port": str(controller.port),
        "smtp_security": "none",
        "mail_from": "Acme Billing <billing@acme.example>",
        "bounce_address": "bounces@acme.example",
        "track_opens": "y",
        **changes,
    }
    response = client.post(SAVE, data=data)
    assert response.status_code == 303, text_of(response)


def test_the_test_button_sends_to_the_admin_through_the_saved_server(
    login: Any,
    team: Team,
    server: Scripted,
    _scripted_server: tuple[Controller, Scripted],
    loopback_allowed: None,
) -> None:
    client = login(Role.ADMIN)
    _point_at(client, _scripted_server[0])
    me = team.users[Role.ADMIN].email

    response = client.post(TEST)
    html = text_of(response)
    assert response.status_code == 200
    assert f"Sent to {me} through 127.0.0.1. Check that it arrived." in html
    [message] = server.accepted
    assert message["To"] == me
    assert message["From"] == "Acme Billing <billing@acme.example>"
    assert message["Subject"] == "Test email from Acme Ltd"
    assert message["Auto-Submitted"] == "auto-generated"

    # With htmx, only the result comes back, to replace the one on the page.
    response = client.post(TEST, headers={"HX-Request": "true"})
    fragment = text_of(response).strip()
    assert fragment.startswith('<div id="mail-test-result" role="status">')
    assert "<h1>" not in fragment
    assert f"Sent to {me}" in fragment
    assert len(server.accepted) == 2


def test_the_test_button_shows_the_server_s_refusal(
    login: Any,
    team: Team,
    server: Scripted,
    _scripted_server: tuple[Controller, Scripted],
    loopback_allowed: None,
) -> None:
    client = login(Role.OWNER)
    _point_at(client, _scripted_server[0])
    server.refuse[team.users[Role.OWNER].email] = "550 5.7.1 Relaying denied for this sender"

    html = text_of(client.post(TEST))
    assert "Not sent: 550 5.7.1 Relaying denied for this sender" in html
    assert server.accepted == []


def test_the_test_button_says_when_nobody_answers(
    login: Any, team: Team, loopback_allowed: None
) -> None:
    client = login(Role.OWNER)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    response = client.post(
        SAVE,
        data={"smtp_host": "127.0.0.1", "smtp_port": str(port), "smtp_security": "none"},
    )
    assert response.status_code == 303, text_of(response)
    html = text_of(client.post(TEST))
    assert "Not sent: ConnectionRefusedError" in html


def test_without_any_smtp_server_the_test_says_where_the_message_went(login: Any) -> None:
    client = login(Role.ADMIN)
    html = text_of(client.post(TEST))
    assert "Not sent: No SMTP server is set up" in html


# ----------------------------------------------------------------------------- pausing reminders

DUE = date(2026, 3, 31)


def test_the_pause_reminders_box_stops_a_client_s_reminders(
    login: Any, team: Team, inbox: Any
) -> None:
    owner = team.actor()
    reminders.save_rules(owner, [reminders.RuleData(o, t) for o, t in reminders.SUGGESTED])
    customer = f.client(
        owner,
        name="Slow Payer Ltd",
        contacts=(ContactData("Sam Slow", "sam@slowpayer.example", is_primary=True),),
    )
    invoice = f.issued_invoice(owner, customer)
    invoice.due_date = DUE
    _db.session.commit()

    client = login(Role.STAFF)
    edit = f"/app/clients/{customer.public_id}/edit"
    form = text_of(client.get(edit))
    assert not _checked(form, "reminders_paused")
    data = {
        "name": "Slow Payer Ltd",
        "currency": customer.currency,
        "payment_terms_days": "30",
        "language": "en",
        "contacts-0-name": "Sam Slow",
        "contacts-0-email": "sam@slowpayer.example",
        "contacts-0-is_primary": "y",
        "reminders_paused": "y",
    }
    assert client.post(edit, data=data).status_code == 303
    assert _client(customer.id).reminders_paused is True
    assert _checked(text_of(client.get(edit)), "reminders_paused")
    event = _last_event()
    assert event.action == "client.updated"
    assert (event.before or {})["reminders_paused"] is False
    assert (event.after or {})["reminders_paused"] is True

    assert reminders.send_due_reminders(DUE + timedelta(days=8)) == []
    assert inbox.deliveries == []

    # Cleared again, the next reminder due goes out.
    del data["reminders_paused"]
    assert client.post(edit, data=data).status_code == 303
    assert _client(customer.id).reminders_paused is False
    assert reminders.send_due_reminders(DUE + timedelta(days=8)) == [
        f"reminder-{invoice.public_id}-7"
    ]
    [sent] = inbox.deliveries
    assert sent.rcpt_tos == ["sam@slowpayer.example"]


def test_other_callers_of_the_client_service_leave_the_pause_alone(team: Team) -> None:
    from portal.services import clients
    from portal.services.clients import ClientData

    owner = team.actor()
    customer = clients.create_client(
        owner, ClientData(name="Paused Co", currency="EUR", reminders_paused=True)
    )
    clients.update_client(owner, customer.public_id, ClientData(name="Paused Co", currency="EUR"))
    assert _client(customer.id).reminders_paused is True


def test_an_erased_client_s_reminders_stay_paused(team: Team) -> None:
    from portal.services import clients, gdpr
    from portal.services.clients import ClientData
    from portal.services.errors import InvalidInput

    owner = team.actor()
    customer = clients.create_client(owner, ClientData(name="Gone Ltd", currency="EUR"))
    gdpr.erase_client(owner, customer.public_id, "Gone Ltd")
    erased = _client(customer.id)
    with pytest.raises(InvalidInput, match=re.escape("An erased client gets no reminders.")):
        clients.update_client(
            owner,
            customer.public_id,
            ClientData(name=erased.name, currency="EUR", reminders_paused=False),
        )
    assert _client(customer.id).reminders_paused is True
