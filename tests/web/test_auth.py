"""Sign-up, log-in, log-out, password reset and invitations, mail through a real SMTP server."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import Business, Invitation, Membership, Role, User
from portal.services import team as team_service
from tests.conftest import PASSWORD, Inbox, Team, make_team
from tests.web.helpers import (
    count,
    errors_beside,
    form_errors,
    heading,
    link_in,
    log_in,
    role_shown,
    text_of,
    toasts,
)

WRONG = "The email or password is wrong."
NEW_PASSWORD = "a brand new passphrase"


def _business_names(html: str) -> list[str]:
    """The businesses in the switcher, or the one business named in the top bar."""
    options = re.findall(r'<option value="[0-9A-Z]{26}"[^>]*>(.*?)</option>', html)
    if options:
        return options
    return re.findall(r'<span class="business-name">(.*?)</span>', html)


# --- sign-up, log-in, log-out --------------------------------------------------------------


def test_sign_up_creates_a_business_and_logs_in(client: FlaskClient, db: Any) -> None:
    response = client.post(
        "/signup",
        data={
            "name": "Ada Lovelace",
            "email": "Ada@Lovelace.example",
            "password": "analytical engine",
            "business_name": "Lovelace Ltd",
            "base_currency": "GBP",
            "time_zone": "Europe/London",
            "locale": "en",
        },
    )
    assert response.status_code == 303, text_of(response)
    assert response.headers["Location"] == "/app/"
    html = text_of(client.get("/app/"))
    assert heading(html) == "Lovelace Ltd"
    assert role_shown(html) == "owner"
    assert toasts(html) == ["Welcome to Invoice Lite, Lovelace Ltd is ready."]
    assert (count(User), count(Business), count(Membership)) == (1, 1, 1)

    client.post("/logout")
    assert log_in(client, "ada@lovelace.example", "analytical engine").status_code == 303


def test_log_in_and_land_on_the_overview(client: FlaskClient, team: Team) -> None:
    response = log_in(client, "OWNER@Acme-Ltd.example", PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/"
    html = text_of(client.get("/app/"))
    assert heading(html) == "Acme Ltd"
    assert role_shown(html) == "owner"


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("owner@acme-ltd.example", "not the password"),
        ("nobody@acme-ltd.example", PASSWORD),
    ],
    ids=["wrong password", "unknown email"],
)
def test_a_failed_log_in_says_the_same_either_way(
    email: str, password: str, client: FlaskClient, team: Team
) -> None:
    response = log_in(client, email, password)
    html = text_of(response)
    assert response.status_code == 422
    assert form_errors(html) == [WRONG]
    assert heading(html) == "Log in"
    assert client.get("/app/").status_code == 302


def test_log_in_with_empty_fields(client: FlaskClient, db: Any) -> None:
    response = client.post("/login", data={"email": "", "password": ""})
    html = text_of(response)
    assert response.status_code == 422
    assert errors_beside(html, "email") == ["This field is required."]
    assert errors_beside(html, "password") == ["This field is required."]


def test_log_in_goes_on_to_the_page_asked_for(client: FlaskClient, team: Team) -> None:
    response = client.get("/app/clients/?q=blue")
    assert response.status_code == 302
    login_url = response.headers["Location"]
    response = client.post(
        login_url, data={"email": "owner@acme-ltd.example", "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/clients/?q=blue"


def test_the_log_in_page_says_why_it_is_shown(client: FlaskClient, db: Any) -> None:
    response = client.get("/app/clients/")
    assert response.status_code == 302
    assert toasts(text_of(client.get(response.headers["Location"]))) == ["Log in to continue."]


OPEN_REDIRECTS = [
    "https://evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "/\t/evil.example",
    "evil.example",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_log_in_never_redirects_off_the_site(target: str, client: FlaskClient, team: Team) -> None:
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "owner@acme-ltd.example", "password": PASSWORD},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/"


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_the_login_page_of_a_logged_in_user_never_redirects_off_the_site(
    target: str, login: Any
) -> None:
    client = login(Role.STAFF)
    response = client.get("/login", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/app/"


def test_log_out(login: Any) -> None:
    client = login(Role.STAFF)
    response = client.post("/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert toasts(text_of(client.get("/login"))) == ["You are logged out."]
    response = client.get("/app/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_log_out_is_not_a_link(login: Any) -> None:
    client = login(Role.STAFF)
    assert client.get("/logout").status_code == 405
    assert client.get("/app/").status_code == 200


# --- password reset ------------------------------------------------------------------------


def _ask_for_reset(client: FlaskClient, inbox: Inbox, email: str) -> str:
    response = client.post("/password/forgot", data={"email": email})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    (delivery,) = inbox.deliveries
    return link_in(delivery.message)


def test_password_reset_end_to_end(client: FlaskClient, team: Team, inbox: Inbox) -> None:
    response = client.post("/password/forgot", data={"email": "Staff@Acme-Ltd.example"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert toasts(text_of(client.get("/login"))) == [
        "If an account has this email, a reset link is on its way."
    ]

    (delivery,) = inbox.deliveries
    assert delivery.rcpt_tos == ["staff@acme-ltd.example"]
    assert delivery.message["To"] == "staff@acme-ltd.example"
    assert delivery.message["Subject"] == "Reset your Invoice Lite password"
    assert "within 60 minutes" in delivery.message.get_content()
    link = link_in(delivery.message)
    assert link.startswith("/password/reset/")

    page = client.get(link)
    assert page.status_code == 200
    assert heading(text_of(page)) == "Choose a new password"

    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert toasts(text_of(client.get("/login"))) == [
        "Your password is changed. Log in with the new one."
    ]

    assert log_in(client, "staff@acme-ltd.example", PASSWORD).status_code == 422
    assert log_in(client, "staff@acme-ltd.example", NEW_PASSWORD).status_code == 303
    assert role_shown(text_of(client.get("/app/"))) == "staff"

    client.post("/logout")
    again = client.get(link)
    assert again.status_code == 410
    assert heading(text_of(again)) == "Link no longer valid"
    assert "This reset link has expired or was already used. Ask for a new one." in text_of(again)
    spent = client.post(link, data={"password": "yet another one!", "confirm": "yet another one!"})
    assert spent.status_code == 410
    assert log_in(client, "staff@acme-ltd.example", NEW_PASSWORD).status_code == 303


def test_a_reset_form_with_bad_input(client: FlaskClient, team: Team, inbox: Inbox) -> None:
    link = _ask_for_reset(client, inbox, "staff@acme-ltd.example")
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": "something else"})
    assert response.status_code == 422
    assert errors_beside(text_of(response), "confirm") == ["The passwords differ."]
    response = client.post(link, data={"password": "short", "confirm": "short"})
    assert response.status_code == 422
    assert errors_beside(text_of(response), "password") == [
        "Field must be between 10 and 200 characters long."
    ]
    # The link is still good after mistakes.
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303


def test_an_expired_reset_link_is_gone(
    app: Flask, client: FlaskClient, team: Team, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = _ask_for_reset(client, inbox, "staff@acme-ltd.example")
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", -1)
    response = client.get(link)
    assert response.status_code == 410
    assert heading(text_of(response)) == "Link no longer valid"
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 410
    assert log_in(client, "staff@acme-ltd.example", PASSWORD).status_code == 303


def test_a_tampered_reset_link_is_gone(client: FlaskClient, team: Team, inbox: Inbox) -> None:
    link = _ask_for_reset(client, inbox, "staff@acme-ltd.example")
    assert client.get(link[:-2] + ("aa" if not link.endswith("aa") else "bb")).status_code == 410


def test_a_reset_for_an_unknown_email_sends_nothing_and_says_the_same(
    client: FlaskClient, team: Team, inbox: Inbox
) -> None:
    response = client.post("/password/forgot", data={"email": "nobody@acme-ltd.example"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert toasts(text_of(client.get("/login"))) == [
        "If an account has this email, a reset link is on its way."
    ]
    assert inbox.deliveries == []


def test_a_reset_asked_with_a_bad_email(client: FlaskClient, db: Any, inbox: Inbox) -> None:
    response = client.post("/password/forgot", data={"email": "nobody"})
    assert response.status_code == 422
    assert errors_beside(text_of(response), "email") == ["Invalid email address."]
    assert inbox.deliveries == []


# --- invitations ---------------------------------------------------------------------------


def _invite(client: FlaskClient, inbox: Inbox, email: str, role: str) -> str:
    response = client.post("/app/team/invite", data={"email": email, "role": role})
    assert response.status_code == 303, text_of(response)
    assert response.headers["Location"] == "/app/team"
    client.get("/app/team")  # shows, and so clears, the "Invitation sent" toast
    (delivery,) = inbox.deliveries
    inbox.deliveries.clear()
    assert delivery.rcpt_tos == [email.lower()]
    return link_in(delivery.message)


def test_invitation_end_to_end(login: Any, inbox: Inbox) -> None:
    client = login(Role.ADMIN)
    response = client.post(
        "/app/team/invite", data={"email": "New@Acme-Ltd.example", "role": "accountant"}
    )
    assert response.status_code == 303
    html = text_of(client.get("/app/team"))
    assert toasts(html) == ["Invitation sent to new@acme-ltd.example."]
    assert "<td>new@acme-ltd.example</td><td>accountant</td>" in html

    (delivery,) = inbox.deliveries
    assert delivery.rcpt_tos == ["new@acme-ltd.example"]
    assert delivery.message["Subject"] == "Acme Ltd invites you to Invoice Lite"
    assert delivery.message["Reply-To"] == "admin@acme-ltd.example"
    assert "join Acme Ltd on Invoice Lite as accountant" in delivery.message.get_content()
    link = link_in(delivery.message)
    assert link.startswith("/invitations/")
    client.post("/logout")

    page = client.get(link)
    html = text_of(page)
    assert page.status_code == 200
    assert heading(html) == "Join Acme Ltd"
    assert "You are invited as <strong>accountant</strong>" in html

    response = client.post(link, data={"name": "Nina New", "password": "a fine passphrase"})
    assert response.status_code == 303, text_of(response)
    assert response.headers["Location"] == "/app/"
    html = text_of(client.get("/app/"))
    assert heading(html) == "Acme Ltd"
    assert role_shown(html) == "accountant"
    assert toasts(html) == ["Welcome to Acme Ltd."]

    client.post("/logout")
    assert log_in(client, "new@acme-ltd.example", "a fine passphrase").status_code == 303
    client.post("/logout")
    used = client.get(link)
    assert used.status_code == 410
    assert "This invitation was already used or does not exist." in text_of(used)


def test_accepting_with_a_bad_name_or_password(login: Any, inbox: Inbox) -> None:
    client = login(Role.ADMIN)
    link = _invite(client, inbox, "new@acme-ltd.example", "staff")
    client.post("/logout")
    users = count(User)
    response = client.post(link, data={"name": "", "password": "short"})
    html = text_of(response)
    assert response.status_code == 422
    assert errors_beside(html, "name") == ["This field is required."]
    assert errors_beside(html, "password") == ["Field must be between 10 and 200 characters long."]
    assert count(User) == users
    assert client.get(link).status_code == 200


def test_an_existing_user_logged_in_as_another_email_cannot_accept(
    login: Any, inbox: Inbox
) -> None:
    client = login(Role.ADMIN)
    link = _invite(client, inbox, "new@acme-ltd.example", "staff")
    members = count(Membership)
    response = client.post(link, data={})
    html = text_of(response)
    assert response.status_code == 422
    assert form_errors(html) == [
        "This invitation is for new@acme-ltd.example; log in with that email."
    ]
    assert count(Membership) == members
    client.post("/logout")
    assert client.get(link).status_code == 200


def test_an_existing_account_must_log_in_to_accept(login: Any, team: Team, inbox: Inbox) -> None:
    other = make_team("Other Co")
    client = login(Role.ADMIN)
    link = _invite(client, inbox, "owner@other-co.example", "staff")
    client.post("/logout")
    response = client.post(link, data={"name": "Someone", "password": "a fine passphrase"})
    assert response.status_code == 422
    assert form_errors(text_of(response)) == [
        "An account with this email exists; log in to accept."
    ]
    assert log_in(client, "owner@other-co.example", PASSWORD).status_code == 303
    page = client.get(link)
    assert "Accept and join" in text_of(page)
    response = client.post(link, data={})
    assert response.status_code == 303
    html = text_of(client.get("/app/"))
    assert heading(html) == "Acme Ltd"
    assert role_shown(html) == "staff"
    assert _business_names(html) == ["Acme Ltd", "Other Co"]
    assert other.business.legal_name == "Other Co"


def test_an_admin_cannot_invite_an_owner(login: Any, inbox: Inbox) -> None:
    client = login(Role.ADMIN)
    response = client.post(
        "/app/team/invite", data={"email": "boss@acme-ltd.example", "role": "owner"}
    )
    assert response.status_code == 422
    assert errors_beside(text_of(response), "role") == ["Not a valid choice."]
    assert count(Invitation) == 0
    assert inbox.deliveries == []


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.STAFF, Role.VIEWER])
def test_below_admin_nobody_invites(role: Role, login: Any, inbox: Inbox) -> None:
    client = login(role)
    response = client.post(
        "/app/team/invite", data={"email": "new@acme-ltd.example", "role": "viewer"}
    )
    assert response.status_code == 403
    assert count(Invitation) == 0
    assert inbox.deliveries == []


def test_an_admin_cannot_promote_to_or_remove_above_their_role(login: Any, team: Team) -> None:
    client = login(Role.ADMIN)
    owner = team.users[Role.OWNER].public_id
    assert client.post(f"/app/team/members/{owner}/remove").status_code == 303
    assert toasts(text_of(client.get("/app/team"))) == ["The owner cannot be removed."]
    staff = team.users[Role.STAFF].public_id
    response = client.post(f"/app/team/members/{staff}/role", data={"role": "owner"})
    assert response.status_code == 303
    assert toasts(text_of(client.get("/app/team"))) == ["Choose one of the listed roles."]
    assert count(Membership) == 5


def test_a_revoked_invitation_is_gone(login: Any, inbox: Inbox) -> None:
    client = login(Role.ADMIN)
    link = _invite(client, inbox, "new@acme-ltd.example", "staff")
    invitation_id = db.session.scalar(select(Invitation.public_id))
    response = client.post(f"/app/team/invitations/{invitation_id}/revoke")
    assert response.status_code == 303
    assert toasts(text_of(client.get("/app/team"))) == ["Invitation revoked."]
    client.post("/logout")
    assert client.get(link).status_code == 410


# --- switching business --------------------------------------------------------------------


@pytest.fixture
def two_businesses(app: Flask, team: Team, inbox: Inbox) -> Team:
    """The owner of Acme Ltd also works in Other Co, as staff."""
    other = make_team("Other Co")
    with app.test_request_context():
        team_service.invite_member(other.actor(), "owner@acme-ltd.example", Role.STAFF)
        (delivery,) = inbox.deliveries
        token = link_in(delivery.message).rsplit("/", 1)[1]
        team_service.accept_invitation(token, team.users[Role.OWNER], None)
    return other


def test_switch_business(two_businesses: Team, login: Any) -> None:
    client = login(Role.OWNER)
    html = text_of(client.get("/app/"))
    assert heading(html) == "Acme Ltd"
    assert role_shown(html) == "owner"
    assert _business_names(html) == ["Acme Ltd", "Other Co"]

    response = client.post(
        "/app/settings/switch", data={"business": two_businesses.business.public_id}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/"
    html = text_of(client.get("/app/"))
    assert heading(html) == "Other Co"
    assert role_shown(html) == "staff"
    assert toasts(html) == ["Now working in Other Co."]
    # The role follows the business: staff of Other Co may not open its settings.
    assert client.get("/app/settings/").status_code == 403


def test_switching_to_a_business_you_are_not_in_is_not_found(
    two_businesses: Team, login: Any
) -> None:
    third = make_team("Third Co")
    client = login(Role.OWNER)
    response = client.post("/app/settings/switch", data={"business": third.business.public_id})
    assert response.status_code == 404
    assert heading(text_of(response)) == "Not found"
    assert heading(text_of(client.get("/app/"))) == "Acme Ltd"
