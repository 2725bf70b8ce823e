"""'Remember this device for 30 days': the second step is skipped until the device is forgotten."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import RememberedDevice, Role
from portal.models.base import utcnow
from portal.web.auth import DEVICE_COOKIE
from tests.conftest import PASSWORD, Team
from tests.security.conftest import enrol, two_step_log_in
from tests.web.helpers import log_in, text_of, toasts

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/140.0 Safari/537.36"
)


def _device_cookie(response: Any) -> str:
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(DEVICE_COOKIE)]
    return str(header)


def test_a_remembered_device_skips_the_second_step(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    response = two_step_log_in(
        client, who, who.code(), remember=True, headers={"User-Agent": CHROME}
    )
    assert response.status_code == 303
    header = _device_cookie(response)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Max-Age=2592000" in header
    assert "Secure" not in header  # the tests run over plain http
    device = db.session.scalar(select(RememberedDevice))
    assert device is not None
    assert device.label == "Chrome on Linux"
    assert timedelta(days=29, hours=23) < device.expires_at - utcnow() <= timedelta(days=30)
    # Only the token's hash is stored.
    assert device.token_hash not in header

    client.post("/logout")
    response = log_in(client, who.user.email, PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/app/"
    assert client.get("/app/").status_code == 200
    html = text_of(client.get("/app/account/security/"))
    assert "Chrome on Linux" in html


def test_the_cookie_is_secure_in_production(
    app: Flask, client: FlaskClient, team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = enrol(team.users[Role.STAFF])
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    response = two_step_log_in(client, who, who.code(), remember=True)
    assert "Secure" in _device_cookie(response)


def test_without_remember_no_device_is_kept(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    response = two_step_log_in(client, who, who.code())
    assert not [h for h in response.headers.getlist("Set-Cookie") if DEVICE_COOKIE in h]
    client.post("/logout")
    assert log_in(client, who.user.email, PASSWORD).headers["Location"] == "/login/two-factor"


def test_a_forgotten_device_asks_for_the_code_again(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    two_step_log_in(client, who, who.code(), remember=True)
    device = db.session.scalar(select(RememberedDevice))
    assert device is not None
    response = client.post(f"/app/account/security/devices/{device.public_id}/forget")
    assert response.status_code == 303
    assert toasts(text_of(client.get("/app/account/security/"))) == [
        "That device will be asked for a code at its next log-in."
    ]
    client.post("/logout")
    # The browser still holds its cookie, but it no longer counts.
    assert client.get_cookie(DEVICE_COOKIE) is not None
    assert log_in(client, who.user.email, PASSWORD).headers["Location"] == "/login/two-factor"


def test_forget_every_device(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    two_step_log_in(client, who, who.code(), remember=True)
    assert client.post("/app/account/security/devices/forget-all").status_code == 303
    client.post("/logout")
    assert log_in(client, who.user.email, PASSWORD).headers["Location"] == "/login/two-factor"


def test_an_expired_device_asks_for_the_code(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    two_step_log_in(client, who, who.code(), remember=True)
    device = db.session.scalar(select(RememberedDevice))
    assert device is not None
    device.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    client.post("/logout")
    assert log_in(client, who.user.email, PASSWORD).headers["Location"] == "/login/two-factor"


def test_a_device_is_remembered_for_its_member_only(client: FlaskClient, team: Team) -> None:
    staff = enrol(team.users[Role.STAFF])
    admin = enrol(team.users[Role.ADMIN])
    two_step_log_in(client, staff, staff.code(), remember=True)
    client.post("/logout")
    assert log_in(client, admin.user.email, PASSWORD).headers["Location"] == "/login/two-factor"


def test_a_tampered_cookie_counts_for_nothing(client: FlaskClient, team: Team) -> None:
    who = enrol(team.users[Role.STAFF])
    two_step_log_in(client, who, who.code(), remember=True)
    cookie = client.get_cookie(DEVICE_COOKIE)
    assert cookie is not None
    client.post("/logout")
    client.set_cookie(DEVICE_COOKIE, cookie.value[:-2] + "xx")
    assert log_in(client, who.user.email, PASSWORD).headers["Location"] == "/login/two-factor"


def test_someone_elses_device_cannot_be_forgotten(client: FlaskClient, team: Team) -> None:
    staff = enrol(team.users[Role.STAFF])
    admin = enrol(team.users[Role.ADMIN])
    two_step_log_in(client, staff, staff.code(), remember=True)
    device = db.session.scalar(select(RememberedDevice))
    assert device is not None
    client.post("/logout")
    two_step_log_in(client, admin, admin.code())
    response = client.post(f"/app/account/security/devices/{device.public_id}/forget")
    assert response.status_code == 404
    db.session.refresh(device)
    assert device.revoked_at is None
