"""The OAuth 2.0 server, driven by Authlib's own client against the running app."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiRequest, OAuthClient, OAuthToken, Role
from portal.services import oauth
from tests.conftest import Team

CALLBACK = "http://127.0.0.1:9/callback"
WHOAMI = "/api/v1/probe/whoami"


def _fresh() -> None:
    """End the test's read transaction: SQLite keeps a snapshot per transaction, and the live
    server has written since."""
    db.session.commit()


def _register(
    team: Team, *, confidential: bool, scopes: tuple[str, ...] = ("clients:read",), **more: Any
) -> tuple[OAuthClient, str]:
    grants = ("authorization_code", "refresh_token") + (
        ("client_credentials",) if confidential else ()
    )
    data = {
        "name": "Ledger Sync",
        "redirect_uris": (CALLBACK,),
        "confidential": confidential,
        "grant_types": grants,
        "scopes": scopes,
    } | more
    return oauth.register_app(team.actor(Role.ADMIN), oauth.AppData(**data))


def _session(app: OAuthClient, secret: str = "", **more: Any) -> OAuth2Session:
    return OAuth2Session(
        app.client_id,
        secret or None,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=" ".join(app.scopes),
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        **more,
    )


def _consent(browser: FlaskClient, url: str, decision: str = "approve") -> str:
    """The member answers the consent screen; returns where they are sent back to."""
    parts = urlsplit(url)
    path = f"{parts.path}?{parts.query}"
    page = browser.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    answer = browser.post(path, data={"decision": decision})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return str(answer.headers["Location"])


def _authorized(
    live_server: str, browser: FlaskClient, session: OAuth2Session
) -> tuple[dict[str, Any], str]:
    verifier = secrets.token_urlsafe(48)
    url, _ = session.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=verifier
    )
    back = _consent(browser, url)
    token = session.fetch_token(
        f"{live_server}/oauth/token", authorization_response=back, code_verifier=verifier
    )
    return token, back


@pytest.fixture
def browser(login: Callable[..., FlaskClient]) -> FlaskClient:
    return login(Role.OWNER)


def test_authorization_code_with_pkce_refresh_revoke(
    live_server: str, browser: FlaskClient, team: Team
) -> None:
    app, _ = _register(team, confidential=False)
    session = _session(app)
    token, _ = _authorized(live_server, browser, session)
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "clients:read"
    assert token["access_token"].startswith("ilat_") and token["refresh_token"]
    _fresh()
    stored = db.session.scalar(select(OAuthToken))
    assert stored is not None and stored.access_token_hash == oauth.digest(token["access_token"])

    me = session.get(f"{live_server}{WHOAMI}")
    assert me.status_code == 200
    assert me.json()["user"] == team.users[Role.OWNER].email
    assert me.json()["credential"] == f"oauth:{app.id}"

    old = dict(token)
    fresh = session.refresh_token(f"{live_server}/oauth/token")
    assert fresh["refresh_token"] != old["refresh_token"]
    assert session.get(f"{live_server}{WHOAMI}").status_code == 200
    # Rotation: the old refresh token and its access token are spent.
    with pytest.raises(OAuthError, match="invalid_grant"):
        session.refresh_token(f"{live_server}/oauth/token", refresh_token=old["refresh_token"])
    stale = requests.get(
        f"{live_server}{WHOAMI}",
        headers={"Authorization": f"Bearer {old['access_token']}"},
        timeout=10,
    )
    assert stale.status_code == 401

    revoked = session.revoke_token(
        f"{live_server}/oauth/revoke", token=fresh["refresh_token"], token_type_hint="refresh_token"
    )
    assert revoked.status_code == 200
    assert session.get(f"{live_server}{WHOAMI}").status_code == 401
    with pytest.raises(OAuthError, match="invalid_grant"):
        session.refresh_token(f"{live_server}/oauth/token")


def test_introspection_says_active_then_inactive(
    live_server: str, browser: FlaskClient, team: Team
) -> None:
    app, secret = _register(team, confidential=True)
    session = _session(app, secret)
    token, _ = _authorized(live_server, browser, session)
    seen = session.introspect_token(f"{live_server}/oauth/introspect", token=token["access_token"])
    assert seen.status_code == 200
    body = seen.json()
    assert body["active"] is True
    assert body["client_id"] == app.client_id
    assert body["scope"] == "clients:read"
    assert body["sub"] == team.users[Role.OWNER].public_id
    assert body["business"] == team.business.public_id
    session.revoke_token(f"{live_server}/oauth/revoke", token=token["access_token"])
    after = session.introspect_token(f"{live_server}/oauth/introspect", token=token["access_token"])
    assert after.json() == {"active": False}
    unknown = session.introspect_token(f"{live_server}/oauth/introspect", token="ilat_nothing")
    assert unknown.json() == {"active": False}


def test_introspection_needs_the_apps_secret(live_server: str, team: Team) -> None:
    app, _ = _register(team, confidential=True)
    answer = requests.post(
        f"{live_server}/oauth/introspect",
        data={"token": "ilat_x"},
        auth=(app.client_id, "wrong"),
        timeout=10,
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    _fresh()
    public, _ = _register(team, confidential=False)
    answer = requests.post(
        f"{live_server}/oauth/introspect",
        data={"token": "ilat_x", "client_id": public.client_id},
        timeout=10,
    )
    assert answer.json()["error"] == "invalid_client"


def test_client_credentials_act_as_the_member_who_registered_the_app(
    live_server: str, team: Team
) -> None:
    app, secret = _register(team, confidential=True)
    session = OAuth2Session(app.client_id, secret, scope="clients:read")
    token = session.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")
    assert "refresh_token" not in token
    me = session.get(f"{live_server}{WHOAMI}")
    assert me.status_code == 200
    assert me.json()["user"] == team.users[Role.ADMIN].email
    wrong = OAuth2Session(app.client_id, "not-the-secret", scope="clients:read")
    with pytest.raises(OAuthError, match="invalid_client"):
        wrong.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")
    too_much = OAuth2Session(app.client_id, secret, scope="clients:write")
    with pytest.raises(OAuthError, match="invalid_scope"):
        too_much.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")


def test_a_wrong_pkce_verifier_is_refused(
    live_server: str, browser: FlaskClient, team: Team
) -> None:
    app, _ = _register(team, confidential=False)
    session = _session(app)
    url, _ = session.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=secrets.token_urlsafe(48)
    )
    back = _consent(browser, url)
    with pytest.raises(OAuthError, match="invalid_grant: Code challenge failed"):
        session.fetch_token(
            f"{live_server}/oauth/token",
            authorization_response=back,
            code_verifier=secrets.token_urlsafe(48),
        )


def test_a_public_app_must_use_pkce_s256(
    live_server: str, browser: FlaskClient, team: Team
) -> None:
    app, _ = _register(team, confidential=False)
    session = OAuth2Session(app.client_id, scope="clients:read", redirect_uri=CALLBACK)
    url, _ = session.create_authorization_url(f"{live_server}/oauth/authorize")
    parts = urlsplit(url)
    answer = browser.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["error"] == ["invalid_request"]
    assert "code_challenge" in back["error_description"][0]
    plain = browser.get(
        f"{parts.path}?{parts.query}&code_challenge={'a' * 43}&code_challenge_method=plain"
    )
    assert parse_qs(urlsplit(plain.headers["Location"]).query)["error"] == ["invalid_request"]


def test_a_reused_code_is_refused_and_its_tokens_revoked(
    live_server: str, browser: FlaskClient, team: Team
) -> None:
    app, secret = _register(team, confidential=True)
    session = _session(app, secret)
    _, back = _authorized(live_server, browser, session)
    code = parse_qs(urlsplit(back).query)["code"][0]
    again = requests.post(
        f"{live_server}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        auth=(app.client_id, secret),
        timeout=10,
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert session.get(f"{live_server}{WHOAMI}").status_code == 401


def test_a_wrong_redirect_uri_is_never_followed(
    live_server: str, browser: FlaskClient, team: Team
) -> None:
    app, secret = _register(team, confidential=True)
    session = _session(app, secret)
    verifier = secrets.token_urlsafe(48)
    url, _ = session.create_authorization_url(
        f"{live_server}/oauth/authorize",
        code_verifier=verifier,
        redirect_uri="https://evil.example/cb",
    )
    parts = urlsplit(url)
    page = browser.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert '<code id="oauth-error">invalid_request</code>' in page.get_data(as_text=True)
    # At the token endpoint, the redirect URI must be the one the code was issued for.
    url, _ = session.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=verifier
    )
    back = _consent(browser, url)
    code = parse_qs(urlsplit(back).query)["code"][0]
    answer = requests.post(
        f"{live_server}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/other",
            "code_verifier": verifier,
        },
        auth=(app.client_id, secret),
        timeout=10,
    )
    assert answer.json()["error"] == "invalid_grant"


def test_an_expired_access_token_is_refused(
    live_server: str, browser: FlaskClient, team: Team
) -> None:
    app, secret = _register(team, confidential=True)
    session = _session(app, secret)
    token, _ = _authorized(live_server, browser, session)
    _fresh()
    row = db.session.scalar(select(OAuthToken))
    assert row is not None
    row.issued_at = row.issued_at - timedelta(seconds=row.expires_in + 1)
    db.session.commit()
    answer = session.get(f"{live_server}{WHOAMI}")
    assert answer.status_code == 401
    assert answer.json()["detail"] == "The access token is unknown, expired or revoked."
    seen = session.introspect_token(f"{live_server}/oauth/introspect", token=token["access_token"])
    assert seen.json() == {"active": False}


def test_denying_sends_access_denied(live_server: str, browser: FlaskClient, team: Team) -> None:
    app, _ = _register(team, confidential=False)
    session = _session(app)
    url, state = session.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=secrets.token_urlsafe(48)
    )
    back = parse_qs(urlsplit(_consent(browser, url, "deny")).query)
    assert back["error"] == ["access_denied"]
    assert back["state"] == [state]
    assert db.session.scalar(select(OAuthToken)) is None


def test_the_consent_screen_grants_only_what_the_members_role_may(
    live_server: str, login: Callable[..., FlaskClient], team: Team
) -> None:
    app, secret = _register(team, confidential=True, scopes=("clients:read", "clients:write"))
    viewer = login(Role.VIEWER)
    session = _session(app, secret)
    verifier = secrets.token_urlsafe(48)
    url, _ = session.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=verifier
    )
    parts = urlsplit(url)
    page = viewer.get(f"{parts.path}?{parts.query}").get_data(as_text=True)
    assert "Allow Ledger Sync to use Invoice Lite?" in page
    assert team.business.legal_name in page
    granted = page.split('id="consent-scopes"')[1].split("</ul>")[0]
    withheld = page.split('id="consent-withheld"')[1].split("</ul>")[0]
    assert "clients:read" in granted and "clients:write" not in granted
    assert "clients:write" in withheld
    back = _consent(viewer, url)
    token = session.fetch_token(
        f"{live_server}/oauth/token", authorization_response=back, code_verifier=verifier
    )
    assert token["scope"] == "clients:read"
    write = session.get(f"{live_server}/api/v1/probe/clients/write")
    assert write.status_code == 403


def test_a_revoked_app_loses_its_tokens(live_server: str, browser: FlaskClient, team: Team) -> None:
    app, secret = _register(team, confidential=True)
    session = _session(app, secret)
    _authorized(live_server, browser, session)
    _fresh()
    oauth.revoke_app(team.actor(Role.ADMIN), app.public_id)
    assert session.get(f"{live_server}{WHOAMI}").status_code == 401
    with pytest.raises(OAuthError, match="invalid_client"):
        OAuth2Session(app.client_id, secret, scope="clients:read").fetch_token(
            f"{live_server}/oauth/token", grant_type="client_credentials"
        )


def test_token_requests_are_in_the_access_log(live_server: str, team: Team) -> None:
    app, secret = _register(team, confidential=True)
    session = OAuth2Session(app.client_id, secret, scope="clients:read")
    session.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")
    session.get(f"{live_server}{WHOAMI}")
    _fresh()
    rows = db.session.scalars(select(ApiRequest).order_by(ApiRequest.id)).all()
    assert [(r.method, r.route, r.status, r.oauth_client_id) for r in rows] == [
        ("POST", "/oauth/token", 200, app.id),
        ("GET", WHOAMI, 200, app.id),
    ]
    assert all(r.business_id == team.business.id for r in rows)
