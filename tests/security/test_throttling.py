"""Log-in throttling: five failures lock the account for 15 minutes; many from one address lock
that address."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.models import LoginAttempt, Role
from portal.services import two_factor
from tests.conftest import PASSWORD, Team
from tests.security.conftest import Clock, enrol
from tests.web.helpers import count, errors_beside, form_errors, text_of

STAFF = "staff@acme-ltd.example"
WRONG = "The email or password is wrong."
LOCKED = (
    "Too many failed log-ins for this account. For your safety, logging in is paused: "
    "try again in {} minutes."
)


def _fail(client: FlaskClient, email: str = STAFF, times: int = 1, **kwargs: Any) -> Any:
    response = None
    for _ in range(times):
        response = client.post("/login", data={"email": email, "password": "not it!"}, **kwargs)
    return response


def test_five_failures_lock_the_account(clock: Clock, client: FlaskClient, team: Team) -> None:
    for _ in range(5):
        response = _fail(client)
        assert response.status_code == 422
        assert form_errors(text_of(response)) == [WRONG]
        clock.advance(minutes=1)
    # Locked now, even for the right password; the message says for how long.
    response = client.post("/login", data={"email": STAFF, "password": PASSWORD})
    assert response.status_code == 429
    assert form_errors(text_of(response)) == [LOCKED.format(14)]
    assert client.get("/app/").status_code == 302
    # Tries while locked are not heard, and do not make the lock longer.
    assert count(LoginAttempt) == 5
    clock.advance(minutes=13, seconds=59)
    assert form_errors(text_of(_fail(client))) == [
        "Too many failed log-ins for this account. For your safety, logging in is paused: "
        "try again in 1 minute."
    ]
    clock.advance(seconds=2)
    response = client.post("/login", data={"email": STAFF, "password": PASSWORD})
    assert response.status_code == 303
    assert client.get("/app/").status_code == 200


def test_the_lock_is_per_account(clock: Clock, client: FlaskClient, team: Team) -> None:
    _fail(client, times=5)
    assert _fail(client).status_code == 429
    response = client.post("/login", data={"email": "admin@acme-ltd.example", "password": PASSWORD})
    assert response.status_code == 303


def test_failures_spread_over_more_than_the_window_do_not_lock(
    clock: Clock, client: FlaskClient, team: Team
) -> None:
    for _ in range(8):
        _fail(client)
        clock.advance(minutes=4)
    assert client.post("/login", data={"email": STAFF, "password": PASSWORD}).status_code == 303


def test_a_log_in_wipes_the_slate(clock: Clock, client: FlaskClient, team: Team) -> None:
    _fail(client, times=4)
    assert client.post("/login", data={"email": STAFF, "password": PASSWORD}).status_code == 303
    client.post("/logout")
    _fail(client, times=4)
    assert client.post("/login", data={"email": STAFF, "password": PASSWORD}).status_code == 303


def test_unknown_emails_are_counted_the_same(clock: Clock, client: FlaskClient, db: Any) -> None:
    _fail(client, "nobody@acme-ltd.example", times=5)
    response = _fail(client, "Nobody@Acme-Ltd.example")
    assert response.status_code == 429
    assert form_errors(text_of(response)) == [LOCKED.format(15)]


def test_many_failures_from_one_address_lock_it(
    app: Flask, clock: Clock, client: FlaskClient, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_IP", 8)
    attacker = {"environ_base": {"REMOTE_ADDR": "198.51.100.7"}}
    for n in range(8):
        assert _fail(client, f"guess{n}@acme-ltd.example", **attacker).status_code == 422
    response = client.post("/login", data={"email": STAFF, "password": PASSWORD}, **attacker)
    assert response.status_code == 429
    assert form_errors(text_of(response)) == [
        "Too many failed log-ins from your network. For your safety, logging in is paused: "
        "try again in 15 minutes."
    ]
    # The member, from their own address, is not locked out by it.
    assert client.post("/login", data={"email": STAFF, "password": PASSWORD}).status_code == 303


def test_wrong_second_factor_codes_count_too(clock: Clock, client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    assert client.post("/login", data={"email": STAFF, "password": PASSWORD}).status_code == 303
    wrong = "000000" if who.code() != "000000" else "111111"
    for _ in range(5):
        response = client.post("/login/two-factor", data={"code": wrong})
        assert response.status_code == 422
        assert errors_beside(text_of(response), "code") == [two_factor.WRONG_CODE]
    response = client.post("/login/two-factor", data={"code": who.code()})
    assert response.status_code == 429
    assert errors_beside(text_of(response), "code") == [LOCKED.format(15)]
    assert client.get("/app/").status_code == 302
    # The password step is locked as well: a right password does not reset the count.
    response = client.post("/login", data={"email": STAFF, "password": PASSWORD})
    assert response.status_code == 429
