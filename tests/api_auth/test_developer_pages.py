"""The developer settings pages: keys shown once, rotation, apps, the access log."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape

from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiKey, ApiRequest, OAuthClient, Role
from portal.models.base import utcnow
from portal.services import api_keys, oauth
from tests.conftest import Team, make_team
from tests.web.helpers import errors_beside, toasts

KEYS = "/app/settings/developers/"


def _value(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}" readonly value="([^"]*)"', html)
    assert found, f"no #{element_id}"
    return unescape(found.group(1))


def test_a_key_is_shown_once_then_listed_by_its_prefix(
    login: Callable[..., FlaskClient], team: Team
) -> None:
    client = login(Role.ADMIN)
    page = client.post(
        KEYS,
        data={"name": "Warehouse", "scopes": ["clients:read", "invoices:read"], "expires_on": ""},
    )
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    text = _value(html, "full-key")
    key = db.session.scalar(select(ApiKey))
    assert key is not None and text.startswith(f"il_{key.prefix}_")
    assert key.scopes == ["clients:read", "invoices:read"]
    assert "signing-secret" not in html
    again = client.get(KEYS).get_data(as_text=True)
    assert text not in again and text.split("_")[2] not in again
    assert f"il_{key.prefix}_…" in again
    assert client.get("/api/v1/clients", headers={"X-Api-Key": text}).status_code == 200


def test_a_signing_key_shows_its_secret_once(login: Callable[..., FlaskClient]) -> None:
    client = login(Role.ADMIN)
    html = client.post(
        KEYS, data={"name": "Signed", "scopes": ["clients:read"], "require_signature": "y"}
    ).get_data(as_text=True)
    key = db.session.scalar(select(ApiKey))
    assert key is not None and key.require_signature
    assert _value(html, "signing-secret") == key.signing_secret
    assert key.signing_secret not in client.get(KEYS).get_data(as_text=True)


def test_only_scopes_the_role_grants_are_offered(login: Callable[..., FlaskClient]) -> None:
    client = login(Role.ADMIN)
    html = client.get(KEYS).get_data(as_text=True)
    assert 'value="catalogue:write"' in html
    refused = client.post(KEYS, data={"name": "Too much", "scopes": ["not:a-scope"]})
    assert refused.status_code == 422
    assert db.session.scalar(select(ApiKey)) is None


def test_a_bad_key_form_keeps_the_messages_beside_the_fields(
    login: Callable[..., FlaskClient],
) -> None:
    client = login(Role.ADMIN)
    answer = client.post(
        KEYS, data={"name": "Late", "scopes": ["clients:read"], "expires_on": "2001-01-01"}
    )
    assert answer.status_code == 422
    assert errors_beside(answer.get_data(as_text=True), "expires_on") == [
        "The expiry must be in the future."
    ]
    answer = client.post(KEYS, data={"name": "None"})
    assert errors_beside(answer.get_data(as_text=True), "scopes") == ["Choose at least one scope."]


def test_rotating_shows_the_new_key_and_keeps_the_old_one_for_the_overlap(
    login: Callable[..., FlaskClient], team: Team
) -> None:
    old, old_text = api_keys.create_key(
        team.actor(Role.ADMIN), api_keys.KeyData(name="Sync", scopes=("clients:read",))
    )
    client = login(Role.ADMIN)
    page = client.post(f"{KEYS}keys/{old.public_id}/rotate", data={"overlap": "24"})
    assert page.status_code == 200
    new_text = _value(page.get_data(as_text=True), "full-key")
    assert new_text != old_text
    db.session.refresh(old)
    assert old.revoked_at is not None
    assert timedelta(hours=23) < old.revoked_at - utcnow() <= timedelta(hours=24)
    for text in (old_text, new_text):
        assert client.get("/api/v1/clients", headers={"X-Api-Key": text}).status_code == 200


def test_revoking_a_key(login: Callable[..., FlaskClient], team: Team) -> None:
    key, text = api_keys.create_key(
        team.actor(Role.ADMIN), api_keys.KeyData(name="Old", scopes=("clients:read",))
    )
    client = login(Role.ADMIN)
    answer = client.post(f"{KEYS}keys/{key.public_id}/revoke", follow_redirects=True)
    assert toasts(answer.get_data(as_text=True)) == [
        f"The key Old (il_{key.prefix}…) no longer works."
    ]
    assert client.get("/api/v1/clients", headers={"X-Api-Key": text}).status_code == 401


def test_the_key_page_draws_requests_and_errors_per_day(
    login: Callable[..., FlaskClient], team: Team
) -> None:
    key, text = api_keys.create_key(
        team.actor(Role.ADMIN), api_keys.KeyData(name="Chart", scopes=("clients:read",))
    )
    client = login(Role.ADMIN)
    client.get("/api/v1/clients", headers={"X-Api-Key": text})
    client.get("/api/v1/clients/nope", headers={"X-Api-Key": text})
    html = client.get(f"{KEYS}keys/{key.public_id}").get_data(as_text=True)
    assert "2 requests, 1 errors in the last 30 days." in html
    raw = html.split('<script type="application/json" id="usage-figure">')[1].split("</script>")[0]
    figure = json.loads(raw)
    succeeded, errors = figure["data"]
    assert (sum(succeeded["y"]), sum(errors["y"])) == (1, 1)
    assert len(succeeded["x"]) == 30
    assert 'data-plotly="usage-figure"' in html


def test_registering_an_app_shows_its_secret_once(
    login: Callable[..., FlaskClient], team: Team
) -> None:
    client = login(Role.ADMIN)
    page = client.post(
        f"{KEYS}apps",
        data={
            "name": "Ledger Sync",
            "redirect_uris": "https://ledger.example/cb\nhttp://127.0.0.1:8000/cb",
            "client_type": "confidential",
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "scopes": ["clients:read"],
        },
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    app = db.session.scalar(select(OAuthClient))
    assert app is not None and _value(html, "client-id") == app.client_id
    secret = _value(html, "client-secret")
    assert oauth.Client(app).check_client_secret(secret)
    assert app.redirect_uris == ["https://ledger.example/cb", "http://127.0.0.1:8000/cb"]
    assert secret not in client.get(f"{KEYS}apps").get_data(as_text=True)


def test_an_app_may_redirect_only_to_https_or_loopback(login: Callable[..., FlaskClient]) -> None:
    client = login(Role.ADMIN)
    answer = client.post(
        f"{KEYS}apps",
        data={
            "name": "Leaky",
            "redirect_uris": "http://ledger.example/cb",
            "client_type": "public",
            "grant_types": ["authorization_code"],
            "scopes": ["clients:read"],
        },
    )
    assert answer.status_code == 422
    assert errors_beside(answer.get_data(as_text=True), "redirect_uris") == [
        "Not allowed: http://ledger.example/cb. Use https, or http on 127.0.0.1 or localhost "
        "only, with no #fragment."
    ]
    answer = client.post(
        f"{KEYS}apps",
        data={
            "name": "Public",
            "redirect_uris": "http://localhost:3000/cb",
            "client_type": "public",
            "grant_types": ["client_credentials"],
            "scopes": ["clients:read"],
        },
    )
    assert errors_beside(answer.get_data(as_text=True), "grant_types") == [
        "Only a confidential app, which keeps a secret, may use them."
    ]


def test_the_access_log_is_searched_and_paged(
    login: Callable[..., FlaskClient], team: Team
) -> None:
    key, text = api_keys.create_key(
        team.actor(Role.ADMIN), api_keys.KeyData(name="Logged", scopes=("clients:read",))
    )
    other, _ = api_keys.create_key(
        team.actor(Role.ADMIN), api_keys.KeyData(name="Quiet", scopes=("clients:read",))
    )
    client = login(Role.ADMIN)
    client.get("/api/v1/clients", headers={"X-Api-Key": text})
    client.get("/api/v1/clients/nope", headers={"X-Api-Key": text})
    now = utcnow()
    db.session.add_all(
        ApiRequest(
            business_id=team.business.id,
            key_id=other.id,
            method="GET",
            path=f"/api/v1/invoices/{n}",
            route="/api/v1/invoices/<pid:public_id>",
            status=200,
            created_at=now - timedelta(days=3),
        )
        for n in range(60)
    )
    db.session.commit()
    log = "/app/settings/developers/log"
    mine = client.get(log, query_string={"who": f"key:{key.public_id}"}).get_data(as_text=True)
    assert mine.count('<tr id="call-') == 2
    errors = client.get(log, query_string={"status": "4xx"}).get_data(as_text=True)
    assert errors.count('<tr id="call-') == 1 and "/api/v1/clients/nope" in errors
    today = now.date().isoformat()
    recent = client.get(log, query_string={"since": today}).get_data(as_text=True)
    assert recent.count('<tr id="call-') == 2
    first = client.get(log, query_string={"route": "invoices"}).get_data(as_text=True)
    assert first.count('<tr id="call-') == 50
    cursor = re.search(r'href="([^"]+)" id="older"', first)
    assert cursor is not None
    second = client.get(unescape(cursor.group(1))).get_data(as_text=True)
    assert second.count('<tr id="call-') == 10
    assert 'id="older"' not in second


def test_the_access_log_shows_only_this_business(
    login: Callable[..., FlaskClient], team: Team
) -> None:
    other = make_team("Other Co")
    _, text = api_keys.create_key(
        other.actor(Role.ADMIN), api_keys.KeyData(name="Theirs", scopes=("clients:read",))
    )
    client = login(Role.ADMIN)
    client.get("/api/v1/clients", headers={"X-Api-Key": text})
    html = client.get("/app/settings/developers/log").get_data(as_text=True)
    assert "No calls match." in html
