"""Sessions: a new one at each log-in, idle and absolute timeouts, the list, revoking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import Role, UserSession
from portal.services import auth, sessions
from portal.services.tokens import token_hash
from tests.conftest import PASSWORD, Team
from tests.security.conftest import Clock
from tests.web.helpers import log_in, text_of, toasts

STAFF = "staff@acme-ltd.example"
NEW = "a new long passphrase"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"


def _session_data(app: Flask, client: FlaskClient) -> dict[str, Any]:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return dict(serializer.loads(cookie.value))


def _rows() -> list[UserSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(UserSession).order_by(UserSession.id)))


def _logged_out(client: FlaskClient) -> bool:
    response = client.get("/app/")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_log_in_starts_a_new_session(app: Flask, client: FlaskClient, team: Team) -> None:
    client.get("/login")
    client.post("/login", data={"email": STAFF, "password": "wrong password"})
    before = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert before is not None
    anonymous = _session_data(app, client)
    assert "sid" not in anonymous and "_user_id" not in anonymous

    assert log_in(client, STAFF, PASSWORD).status_code == 303
    after = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert after is not None and after.value != before.value
    data = _session_data(app, client)
    # Nothing of the anonymous session survives, not even its CSRF token.
    assert data.get("csrf_token") != anonymous.get("csrf_token")
    (row,) = _rows()
    assert row.session_hash == token_hash(data["sid"])
    assert row.user_id == team.users[Role.STAFF].id
    assert (row.method, row.ip, row.revoked_at) == ("password", "127.0.0.1", None)

    # Logging in again (after logging out) makes another session; the first is over.
    client.post("/logout")
    log_in(client, STAFF, PASSWORD)
    first, second = _rows()
    assert _session_data(app, client)["sid"] != data["sid"]
    assert (first.ended_reason, second.revoked_at) == ("logout", None)


def test_sign_up_starts_a_session_too(app: Flask, client: FlaskClient, db: Any) -> None:
    response = client.post(
        "/signup",
        data={
            "name": "Ada",
            "email": "ada@lovelace.example",
            "password": "analytical engine",
            "business_name": "Lovelace Ltd",
            "base_currency": "GBP",
            "time_zone": "Europe/London",
            "locale": "en",
        },
    )
    assert response.status_code == 303
    (row,) = _rows()
    assert row.method == "sign-up"
    assert client.get("/app/").status_code == 200


def test_a_cookie_kept_from_before_log_out_no_longer_works(
    app: Flask, client: FlaskClient, team: Team
) -> None:
    log_in(client, STAFF, PASSWORD)
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    assert cookie is not None
    client.post("/logout")
    client.set_cookie(name, cookie.value)
    assert _logged_out(client)


def test_a_session_without_its_row_is_logged_out(
    app: Flask, client: FlaskClient, team: Team
) -> None:
    log_in(client, STAFF, PASSWORD)
    with client.session_transaction() as session:
        del session["sid"]
    assert _logged_out(client)


def test_idle_timeout(clock: Clock, client: FlaskClient, team: Team) -> None:
    log_in(client, STAFF, PASSWORD)
    clock.advance(minutes=29)
    assert client.get("/app/").status_code == 200
    clock.advance(minutes=29)
    assert client.get("/app/").status_code == 200
    clock.advance(minutes=30)
    response = client.get("/app/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert toasts(text_of(client.get(response.headers["Location"]))) == [
        "You were logged out after a while without activity. Log in again to go on.",
        "Log in to continue.",
    ]
    (row,) = _rows()
    assert row.ended_reason == "idle"


def test_the_idle_timeout_is_configured(
    app: Flask, clock: Clock, client: FlaskClient, team: Team, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    log_in(client, STAFF, PASSWORD)
    clock.advance(minutes=4)
    assert client.get("/app/").status_code == 200
    clock.advance(minutes=5)
    assert _logged_out(client)


def test_absolute_timeout(clock: Clock, client: FlaskClient, team: Team) -> None:
    log_in(client, STAFF, PASSWORD)
    for _ in range(35):  # busy all day: a request every 20 minutes
        clock.advance(minutes=20)
        assert client.get("/app/").status_code == 200
    clock.advance(minutes=20)  # 12 hours since the log-in
    response = client.get("/app/")
    assert response.status_code == 302
    assert toasts(text_of(client.get(response.headers["Location"])))[0] == (
        "Your session reached its time limit. Log in again to go on."
    )
    (row,) = _rows()
    assert row.ended_reason == "expired"


def test_last_seen_is_written_at_most_once_a_minute(
    clock: Clock, client: FlaskClient, team: Team
) -> None:
    log_in(client, STAFF, PASSWORD)
    (row,) = _rows()
    started = row.last_seen_at
    clock.advance(seconds=30)
    client.get("/app/")
    client.get("/app/clients/")
    (row,) = _rows()
    assert row.last_seen_at == started
    clock.advance(seconds=31)
    client.get("/app/")
    (row,) = _rows()
    assert row.last_seen_at == clock.now


def test_the_sessions_page_lists_live_sessions(
    clock: Clock, new_client: Callable[[], FlaskClient], team: Team
) -> None:
    laptop, phone = new_client(), new_client()
    log_in(laptop, STAFF, PASSWORD)
    phone.post(
        "/login",
        data={"email": STAFF, "password": PASSWORD},
        headers={"User-Agent": FIREFOX},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    # Someone else's session is not listed.
    log_in(new_client(), "admin@acme-ltd.example", PASSWORD)
    html = text_of(laptop.get("/app/account/security/sessions"))
    assert html.count('<tr id="session-') == 2
    assert "Firefox on Windows" in html and "203.0.113.9" in html
    assert html.count("This browser") == 1
    assert "Log out everywhere else" in html
    assert "2 active sessions" in text_of(laptop.get("/app/account/security/"))


def test_revoke_one_session(new_client: Callable[[], FlaskClient], team: Team) -> None:
    laptop, phone = new_client(), new_client()
    log_in(laptop, STAFF, PASSWORD)
    log_in(phone, STAFF, PASSWORD)
    phone_row = _rows()[1]
    response = laptop.post(f"/app/account/security/sessions/{phone_row.public_id}/revoke")
    assert response.status_code == 303
    assert toasts(text_of(laptop.get("/app/account/security/sessions"))) == [
        "That session is logged out."
    ]
    response = phone.get("/app/")
    assert response.status_code == 302
    assert toasts(text_of(phone.get(response.headers["Location"])))[0] == (
        "This session was ended. Log in again to go on."
    )
    assert laptop.get("/app/").status_code == 200
    # Revoked once; again there is nothing to revoke.
    again = laptop.post(f"/app/account/security/sessions/{phone_row.public_id}/revoke")
    assert again.status_code == 404


def test_another_members_session_cannot_be_revoked(
    new_client: Callable[[], FlaskClient], team: Team
) -> None:
    staff, admin = new_client(), new_client()
    log_in(staff, STAFF, PASSWORD)
    log_in(admin, "admin@acme-ltd.example", PASSWORD)
    staff_row = _rows()[0]
    response = admin.post(f"/app/account/security/sessions/{staff_row.public_id}/revoke")
    assert response.status_code == 404
    assert staff.get("/app/").status_code == 200


def test_log_out_everywhere_else(new_client: Callable[[], FlaskClient], team: Team) -> None:
    here, there, elsewhere, colleague = new_client(), new_client(), new_client(), new_client()
    for client in (here, there, elsewhere):
        log_in(client, STAFF, PASSWORD)
    log_in(colleague, "admin@acme-ltd.example", PASSWORD)
    response = here.post("/app/account/security/sessions/revoke-others")
    assert response.status_code == 303
    assert toasts(text_of(here.get("/app/account/security/sessions"))) == [
        "You are logged out everywhere else."
    ]
    assert _logged_out(there) and _logged_out(elsewhere)
    assert here.get("/app/").status_code == 200
    assert colleague.get("/app/").status_code == 200
    assert len(sessions.active_sessions(team.users[Role.STAFF])) == 1


def test_changing_the_password_logs_out_the_other_sessions(
    new_client: Callable[[], FlaskClient], team: Team
) -> None:
    here, there = new_client(), new_client()
    log_in(here, STAFF, PASSWORD)
    log_in(there, STAFF, PASSWORD)
    response = here.post(
        "/app/account/security/password",
        data={"current": PASSWORD, "password": NEW, "confirm": NEW},
    )
    assert response.status_code == 303
    assert toasts(text_of(here.get("/app/account/security/"))) == [
        "Your password is changed; your other sessions are logged out."
    ]
    assert _logged_out(there)
    assert here.get("/app/").status_code == 200


def test_a_password_reset_logs_out_every_session(
    app: Flask, new_client: Callable[[], FlaskClient], team: Team
) -> None:
    logged_in = new_client()
    log_in(logged_in, STAFF, PASSWORD)
    token = auth.password_reset_token(team.users[Role.STAFF])
    response = new_client().post(
        f"/password/reset/{token}",
        data={"password": NEW, "confirm": NEW},
    )
    assert response.status_code == 303
    assert _logged_out(logged_in)


def test_device_labels() -> None:
    assert sessions.device_label(FIREFOX) == "Firefox on Windows"
    assert (
        sessions.device_label(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
        )
        == "Safari on iPhone"
    )
    assert sessions.device_label("curl/8.5.0") == "curl/8.5.0"
    assert sessions.device_label("") == "Unknown device"
