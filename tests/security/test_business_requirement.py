"""The owner's switch: every member must log in with a second factor."""

from __future__ import annotations

from typing import Any

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Role
from portal.services import two_factor
from tests.conftest import PASSWORD, Team
from tests.security.conftest import Enrolled, codes_on, enrol, secret_on, two_step_log_in
from tests.web.helpers import errors_beside, log_in, text_of, toasts

SWITCH = "/app/account/security/business"
SETUP = "/app/account/security/two-factor"


def _require(client: FlaskClient, team: Team) -> Enrolled:
    owner = enrol(team.users[Role.OWNER])
    assert two_step_log_in(client, owner, owner.code()).status_code == 303
    html = text_of(client.get("/app/settings/"))
    assert "Require two-factor login of every member" in html
    assert client.post(SWITCH, data={"require_2fa": "y"}).status_code == 303
    assert toasts(text_of(client.get("/app/settings/"))) == [
        "Every member must now log in with a second factor."
    ]
    client.post("/logout")
    return owner


def test_members_without_two_factor_are_sent_to_set_it_up(client: FlaskClient, team: Team) -> None:
    _require(client, team)
    db.session.refresh(team.business)
    assert team.business.require_2fa
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == (
        "business.require_2fa_changed"
    )

    response = log_in(client, "staff@acme-ltd.example", PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == SETUP
    page = client.get(SETUP)
    html = text_of(page)
    assert toasts(html) == ["Acme Ltd requires two-factor login: set it up to go on."]
    assert "Acme Ltd requires every member to log in with a second factor." in html

    # Nothing else opens until it is set up; htmx is told where to go.
    for url in ("/app/", "/app/clients/", "/app/account/security/sessions", "/app/settings/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"] == SETUP
    response = client.get("/app/clients/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == SETUP
    assert client.post("/app/clients/new", data={"name": "Sneaky"}).status_code == 302

    secret = secret_on(text_of(client.get(SETUP)))
    done = client.post(SETUP, data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    assert len(codes_on(text_of(done))) == 10
    assert client.get("/app/").status_code == 200


def test_a_member_logged_in_before_is_stopped_at_the_next_request(
    app: Any, client: FlaskClient, team: Team
) -> None:
    staff = app.test_client()
    assert log_in(staff, "staff@acme-ltd.example", PASSWORD).status_code == 303
    assert staff.get("/app/").status_code == 200
    _require(client, team)
    response = staff.get("/app/")
    assert response.status_code == 302
    assert response.headers["Location"] == SETUP


def test_members_may_log_out_while_required(client: FlaskClient, team: Team) -> None:
    _require(client, team)
    log_in(client, "staff@acme-ltd.example", PASSWORD)
    response = client.post("/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"


def test_enrolled_members_log_in_as_usual(client: FlaskClient, team: Team) -> None:
    staff = enrol(team.users[Role.STAFF])
    _require(client, team)
    assert two_step_log_in(client, staff, staff.code(1)).status_code == 303
    assert client.get("/app/").status_code == 200


def test_two_factor_cannot_be_turned_off_while_required(client: FlaskClient, team: Team) -> None:
    staff = enrol(team.users[Role.STAFF])
    _require(client, team)
    two_step_log_in(client, staff, staff.code(1))
    response = client.post("/app/account/security/two-factor/disable", data={"off-proof": PASSWORD})
    assert response.status_code == 422
    assert errors_beside(text_of(response), "off-proof") == [
        "Acme Ltd requires two-factor login; it must stay on."
    ]
    assert two_factor.is_enrolled(staff.user)


def test_the_owner_turns_it_on_for_themself_first(login: Any, team: Team) -> None:
    client = login(Role.OWNER)
    assert client.post(SWITCH, data={"require_2fa": "y"}).status_code == 303
    assert toasts(text_of(client.get("/app/settings/"))) == [
        "Turn on two-factor login for yourself first, then require it."
    ]
    db.session.refresh(team.business)
    assert not team.business.require_2fa


def test_the_owner_turns_it_off_again(client: FlaskClient, team: Team) -> None:
    owner = _require(client, team)
    assert two_step_log_in(client, owner, owner.code(1)).status_code == 303
    assert client.post(SWITCH, data={}).status_code == 303
    assert toasts(text_of(client.get("/app/settings/"))) == [
        "Two-factor login is now each member's own choice."
    ]
    client.post("/logout")
    assert log_in(client, "staff@acme-ltd.example", PASSWORD).headers["Location"] == "/app/"


def test_only_the_owner_decides(login: Any, team: Team) -> None:
    client = login(Role.ADMIN)
    assert "Require two-factor login" not in text_of(client.get("/app/settings/"))
    assert client.post(SWITCH, data={"require_2fa": "y"}).status_code == 403
    db.session.refresh(team.business)
    assert not team.business.require_2fa
