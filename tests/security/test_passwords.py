"""Passwords: long enough and not one of the most common, at sign-up, reset, invitation and
change."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from portal.models import Role, User
from portal.services import auth, mail
from portal.services import team as team_service
from portal.services.errors import InvalidInput
from portal.services.passwords import COMMON, check_strength, common_passwords
from tests.conftest import PASSWORD, Team
from tests.web.helpers import count, errors_beside, log_in, text_of

TOO_SHORT = "Field must be between 10 and 200 characters long."


def test_the_bundled_list() -> None:
    words = common_passwords()
    assert len(words) == 10_000
    assert {"123456", "password", "qwertyuiop", "password123"} <= words
    assert all(w == w.lower() and w.strip() == w for w in words)


@pytest.mark.parametrize(
    "password", ["password123", "QWERTYUIOP", "1q2w3e4r5t", "Password 123", "  1234567890"]
)
def test_common_passwords_are_refused(password: str) -> None:
    assert check_strength(password) == COMMON


@pytest.mark.parametrize("password", ["short", "123456789"])
def test_short_passwords_are_refused(password: str) -> None:
    assert check_strength(password) == "Use at least 10 characters."


@pytest.mark.parametrize("password", [PASSWORD, "analytical engine", "Tr0ub4dor&3xyz"])
def test_good_passwords_pass(password: str) -> None:
    assert check_strength(password) is None


def _sign_up(client: FlaskClient, password: str) -> Any:
    return client.post(
        "/signup",
        data={
            "name": "Ada",
            "email": "ada@lovelace.example",
            "password": password,
            "business_name": "Lovelace Ltd",
            "base_currency": "GBP",
            "time_zone": "Europe/London",
            "locale": "en",
        },
    )


@pytest.mark.parametrize(("password", "message"), [("password123", COMMON), ("short", TOO_SHORT)])
def test_sign_up_refuses_weak_passwords(
    password: str, message: str, client: FlaskClient, db: Any
) -> None:
    response = _sign_up(client, password)
    assert response.status_code == 422
    assert errors_beside(text_of(response), "password") == [message]
    assert count(User) == 0


def test_reset_refuses_a_common_password(client: FlaskClient, team: Team) -> None:
    token = auth.password_reset_token(team.users[Role.STAFF])
    response = client.post(
        f"/password/reset/{token}", data={"password": "1234567890", "confirm": "1234567890"}
    )
    assert response.status_code == 422
    assert errors_beside(text_of(response), "password") == [COMMON]
    assert log_in(client, "staff@acme-ltd.example", PASSWORD).status_code == 303


def test_accepting_an_invitation_refuses_a_common_password(
    team: Team, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(mail, "send", lambda message: sent.append(message) or "<id@test>")
    with app.test_request_context():
        team_service.invite_member(team.actor(), "new@acme-ltd.example", Role.STAFF)
        (link,) = re.findall(r"https?://\S+", sent[0].text)
        with pytest.raises(InvalidInput) as refused:
            team_service.accept_invitation(
                link.rsplit("/", 1)[1],
                None,
                team_service.NewAccount(name="New", password="qwertyuiop"),
            )
    assert refused.value.errors == {"password": COMMON}


CHANGE = "/app/account/security/password"


def test_change_password(login: Any) -> None:
    client = login(Role.STAFF)
    page = client.get(CHANGE)
    assert page.status_code == 200

    cases = [
        (
            {"current": "not it at all", "password": "a new passphrase"},
            "current",
            "This is not your current password.",
        ),
        ({"current": PASSWORD, "password": "password123"}, "password", COMMON),
        ({"current": PASSWORD, "password": "short"}, "password", TOO_SHORT),
        ({"current": PASSWORD, "password": PASSWORD}, "password", auth.SAME_AS_BEFORE),
    ]
    for data, field, message in cases:
        response = client.post(CHANGE, data={**data, "confirm": data["password"]})
        assert response.status_code == 422, data
        assert errors_beside(text_of(response), field) == [message]
    response = client.post(
        CHANGE, data={"current": PASSWORD, "password": "a new passphrase", "confirm": "differs"}
    )
    assert errors_beside(text_of(response), "confirm") == ["The passwords differ."]

    response = client.post(
        CHANGE,
        data={"current": PASSWORD, "password": "a new passphrase", "confirm": "a new passphrase"},
    )
    assert response.status_code == 303
    client.post("/logout")
    assert log_in(client, "staff@acme-ltd.example", PASSWORD).status_code == 422
    assert log_in(client, "staff@acme-ltd.example", "a new passphrase").status_code == 303
