"""Open redirects: after logging in, out or joining, and from the OAuth consent screen."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.models import Role
from portal.services import mail
from portal.services import team as team_service
from tests.conftest import PASSWORD, Team
from tests.security.conftest import enrol
from tests.web.helpers import text_of

EVIL = [
    "https://evil.example",
    "http://evil.example/app/",
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https:evil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "/app/../\\evil.example",
    "evil.example",
]


def assert_stays_here(response: Any) -> None:
    """A redirect, if any, to a path of this site that a browser cannot read as another."""
    location = response.headers.get("Location")
    if location is None:
        return
    parts = urlsplit(location)
    assert parts.scheme in {"", "http"}, location
    assert parts.netloc in {"", "localhost", "127.0.0.1"}, location
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    # Browsers drop tabs and newlines and read a backslash as a slash.
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    assert not cleaned.startswith("//"), location
    assert "evil.example" not in urlsplit(cleaned).netloc, location


def test_the_check_catches_a_foreign_location() -> None:
    class Fake:
        def __init__(self, location: str) -> None:
            self.headers = {"Location": location}

    for location in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        with pytest.raises(AssertionError):
            assert_stays_here(Fake(location))
    assert_stays_here(Fake("/app/"))


@pytest.mark.parametrize("target", EVIL)
def test_logging_in_never_leads_away(target: str, client: FlaskClient, team: Team) -> None:
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": team.users[Role.OWNER].email, "password": PASSWORD},
    )
    assert response.status_code == 303, text_of(response)
    assert_stays_here(response)
    # Encoded slashes stay a path of this site (it answers "not found"); all else goes home.
    home = "/app/" if not target.startswith("/%") else target
    assert response.headers["Location"] == home
    # Already logged in, the login page sends people on: still only here.
    again = client.get("/login", query_string={"next": target})
    assert_stays_here(again)
    assert again.headers["Location"] == home


def test_a_path_here_is_kept(client: FlaskClient, team: Team) -> None:
    """The guard above is not simply "always go home"."""
    response = client.post(
        "/login",
        query_string={"next": "/app/clients/?q=blue"},
        data={"email": team.users[Role.OWNER].email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/app/clients/?q=blue"


@pytest.mark.parametrize("target", EVIL[:6])
def test_the_second_step_never_leads_away(
    target: str, client: FlaskClient, team: Team, login: Any
) -> None:
    """The target waits in the session while the second factor is asked for."""
    enrolled = enrol(team.users[Role.STAFF])
    user = enrolled.user
    response = client.post(
        "/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login/two-factor"
    done = client.post("/login/two-factor", data={"code": enrolled.code(steps_ahead=1)})
    assert done.status_code == 303, text_of(done)
    assert_stays_here(done)
    assert done.headers["Location"] == "/app/"


@pytest.mark.parametrize("target", EVIL[:6])
def test_logging_out_and_joining_never_lead_away(
    target: str,
    app: Flask,
    client: FlaskClient,
    team: Team,
    login: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login(Role.OWNER)
    out = client.post("/logout", query_string={"next": target})
    assert out.status_code == 303
    assert_stays_here(out)
    sent: list[Any] = []
    monkeypatch.setattr(mail, "send", lambda message: sent.append(message) or "<id@test>")
    with app.test_request_context():
        team_service.invite_member(team.actor(), "new@acme-ltd.example", Role.STAFF)
    (link,) = re.findall(r"https?://\S+", sent[-1].text)
    token = link.rsplit("/", 1)[1]
    joined = client.post(
        f"/invitations/{token}",
        query_string={"next": target},
        data={"name": "New", "password": PASSWORD},
    )
    assert joined.status_code == 303, text_of(joined)
    assert_stays_here(joined)


AUTHORIZE = (
    "/oauth/authorize?response_type=code&client_id={client_id}&scope=clients:read"
    "&redirect_uri={redirect_uri}&state=s&code_challenge_method=S256"
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)
UNREGISTERED = [
    "https://evil.example/cb",
    "https://app.example.evil.example/cb",
    "https://app.example/cb/../../evil",
    "https://app.example/cb?x=https://evil.example",
    "https://app.example@evil.example/cb",
    "https://app.example/cb#@evil.example",
    "https://APP.example/cb",
    "http://app.example/cb",
    "//evil.example/cb",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("redirect_uri", UNREGISTERED)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_oauth_never_leads_to_an_unregistered_address(
    redirect_uri: str, method: str, ids: dict[str, str], login: Any
) -> None:
    client = login(Role.OWNER)
    url = AUTHORIZE.format(
        client_id=ids["oauth_client_id"], redirect_uri=quote(redirect_uri, safe="")
    )
    response = client.open(url, method=method, data={"decision": "allow"})
    assert response.status_code == 400, text_of(response)
    assert "Location" not in response.headers
    assert "evil.example" not in response.headers.get("Content-Security-Policy", "")


def test_the_registered_address_is_used(ids: dict[str, str], login: Any) -> None:
    client = login(Role.OWNER)
    url = AUTHORIZE.format(client_id=ids["oauth_client_id"], redirect_uri="https://app.example/cb")
    response = client.post(url, data={"decision": "deny"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://app.example/cb?")
