"""The same doors on the real API (``/api/v1/clients``): keys, signatures, tokens, limits, log."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiRequest, Role
from portal.services import api_keys, oauth
from tests.api_auth.test_signed_requests import signature_headers
from tests.conftest import Team

CLIENTS = "/api/v1/clients"


def _key(team: Team, **overrides: Any) -> tuple[Any, str]:
    data = {"name": "Books", "scopes": ("clients:read",)} | overrides
    return api_keys.create_key(team.actor(Role.ADMIN), api_keys.KeyData(**data))


def test_a_key_lists_clients_with_rate_limit_headers_and_a_log_row(
    client: FlaskClient, team: Team
) -> None:
    key, text = _key(team)
    address = {"REMOTE_ADDR": "203.0.113.7"}
    answer = client.get(CLIENTS, headers={"X-Api-Key": text}, environ_base=address)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        answer.headers.keys()
    )
    row = db.session.scalar(select(ApiRequest).order_by(ApiRequest.id.desc()))
    assert row is not None
    assert (row.key_id, row.business_id, row.method, row.route, row.path, row.status, row.ip) == (
        key.id,
        team.business.id,
        "GET",
        CLIENTS,
        CLIENTS,
        200,
        "203.0.113.7",
    )
    assert row.latency_ms >= 0


def test_a_signing_key_is_refused_unsigned_and_served_signed(
    client: FlaskClient, team: Team
) -> None:
    key, text = _key(team, require_signature=True)
    unsigned = client.get(CLIENTS, headers={"Authorization": f"Bearer {text}"})
    assert unsigned.status_code == 401
    assert unsigned.headers["Content-Type"] == "application/problem+json"
    assert 'error="signature_required"' in unsigned.headers["WWW-Authenticate"]
    assert "accepts signed requests only" in unsigned.json["detail"]
    signed = client.get(
        CLIENTS,
        query_string={"limit": "5"},
        headers=signature_headers(key, "GET", CLIENTS, [("limit", "5")]),
    )
    assert signed.status_code == 200, signed.get_data(as_text=True)


def test_a_429_from_the_real_api_is_a_problem(
    client: FlaskClient, team: Team, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_BURST", "1 per minute")
    _, text = _key(team)
    address = {"REMOTE_ADDR": f"203.0.113.{secrets.randbelow(200) + 20}"}
    assert client.get(CLIENTS, headers={"X-Api-Key": text}, environ_base=address).status_code == 200
    refused = client.get(CLIENTS, headers={"X-Api-Key": text}, environ_base=address)
    assert refused.status_code == 429
    assert refused.json["type"].endswith("/rate-limited")
    assert int(refused.headers["Retry-After"]) >= 1


def test_an_app_token_lists_clients(live_server: str, team: Team) -> None:
    app, secret = oauth.register_app(
        team.actor(Role.ADMIN),
        oauth.AppData(
            name="Books",
            redirect_uris=(),
            confidential=True,
            grant_types=("client_credentials",),
            scopes=("clients:read",),
        ),
    )
    session = OAuth2Session(app.client_id, secret, scope="clients:read")
    session.fetch_token(f"{live_server}/oauth/token", grant_type="client_credentials")
    answer = session.get(f"{live_server}{CLIENTS}")
    assert answer.status_code == 200, answer.text
    assert session.post(f"{live_server}{CLIENTS}", json={"name": "X"}).status_code == 403
