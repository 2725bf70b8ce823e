"""Signed requests, checked against a signature built here by the rules of docs/api-auth.md
(not with the portal's own code)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import ApiKey, ApiNonce, Role
from portal.models.base import utcnow
from portal.services import api_keys
from tests.conftest import Team

WHOAMI = "/api/v1/probe/whoami"


def _key(team: Team, **overrides: Any) -> tuple[ApiKey, str]:
    data = {"name": "Signer", "scopes": ("clients:read",), "require_signature": True} | overrides
    return api_keys.create_key(team.actor(Role.ADMIN), api_keys.KeyData(**data))


def signature_headers(
    key: ApiKey,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    body: bytes = b"",
    *,
    stamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The documented canonical request, built independently."""
    stamp = int(time.time()) if stamp is None else stamp
    nonce = nonce or secrets.token_urlsafe(18)

    def enc(text: str) -> str:
        return quote(text, safe="-_.~")

    lines = [
        method.upper(),
        quote(path, safe="/-_.~"),
        "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query)),
        hashlib.sha256(body).hexdigest(),
        str(stamp),
        nonce,
    ]
    mac = hmac.new(key.signing_secret.encode(), "\n".join(lines).encode(), hashlib.sha256)
    return {
        "X-Signature-Key-Id": key.prefix,
        "X-Signature-Timestamp": str(stamp),
        "X-Signature-Nonce": nonce,
        "X-Signature": mac.hexdigest(),
    }


def test_a_signed_request_is_accepted(client: FlaskClient, team: Team) -> None:
    key, _ = _key(team)
    query = [("status", "paid"), ("client", "Ærø & Co"), ("a", "")]
    headers = signature_headers(key, "GET", WHOAMI, query)
    answer = client.get(WHOAMI, query_string=query, headers=headers)
    assert answer.status_code == 200, answer.json
    assert answer.json["credential"] == f"key:{key.id}"


def test_a_signed_body_is_accepted_and_a_changed_one_refused(
    client: FlaskClient, team: Team
) -> None:
    key, _ = _key(team)
    body = b'{"name": "Blue Harbor"}'
    headers = signature_headers(key, "POST", WHOAMI, [], body)
    ok = client.post(WHOAMI, data=body, headers=headers, content_type="application/json")
    assert ok.status_code == 200
    headers = signature_headers(key, "POST", WHOAMI, [], body)
    tampered = client.post(
        WHOAMI, data=b'{"name": "Red Harbor"}', headers=headers, content_type="application/json"
    )
    assert tampered.status_code == 401
    assert tampered.json["detail"].startswith("The signature does not match the request")


def test_a_changed_query_or_method_breaks_the_signature(client: FlaskClient, team: Team) -> None:
    key, _ = _key(team)
    headers = signature_headers(key, "GET", WHOAMI, [("page", "1")])
    assert client.get(WHOAMI, query_string={"page": "2"}, headers=headers).status_code == 401
    headers = signature_headers(key, "GET", WHOAMI, [])
    assert client.put(WHOAMI, headers=headers).status_code == 401


def test_a_replayed_nonce_is_refused(client: FlaskClient, team: Team) -> None:
    key, _ = _key(team)
    headers = signature_headers(key, "GET", WHOAMI, [])
    assert client.get(WHOAMI, headers=headers).status_code == 200
    replay = client.get(WHOAMI, headers=headers)
    assert replay.status_code == 401
    assert replay.json["type"].endswith("/replayed_nonce")
    assert replay.json["detail"] == "This nonce was used before: a replayed request is refused."


def test_a_timestamp_outside_five_minutes_is_refused(client: FlaskClient, team: Team) -> None:
    key, _ = _key(team)
    old = signature_headers(key, "GET", WHOAMI, [], stamp=int(time.time()) - 301)
    answer = client.get(WHOAMI, headers=old)
    assert answer.status_code == 401
    assert "more than 300 seconds from our clock" in answer.json["detail"]
    ahead = signature_headers(key, "GET", WHOAMI, [], stamp=int(time.time()) + 301)
    assert client.get(WHOAMI, headers=ahead).status_code == 401
    edge = signature_headers(key, "GET", WHOAMI, [], stamp=int(time.time()) - 290)
    assert client.get(WHOAMI, headers=edge).status_code == 200


def test_a_wrong_secret_or_missing_header_is_refused(client: FlaskClient, team: Team) -> None:
    key, _ = _key(team)
    headers = signature_headers(key, "GET", WHOAMI, [])
    headers["X-Signature"] = "0" * 64
    assert client.get(WHOAMI, headers=headers).status_code == 401
    headers = signature_headers(key, "GET", WHOAMI, [])
    del headers["X-Signature-Nonce"]
    answer = client.get(WHOAMI, headers=headers)
    assert answer.status_code == 401
    assert answer.json["detail"] == "The signature is incomplete: send X-Signature-Nonce too."


def test_a_key_without_a_signing_secret_cannot_sign(client: FlaskClient, team: Team) -> None:
    key, text = _key(team, require_signature=False)
    key.signing_secret = ""
    headers = signature_headers(key, "GET", WHOAMI, [])
    answer = client.get(WHOAMI, headers=headers)
    assert answer.status_code == 401
    assert client.get(WHOAMI, headers={"Authorization": f"Bearer {text}"}).status_code == 200


def test_the_key_sent_beside_a_signature_must_be_the_signer(
    client: FlaskClient, team: Team
) -> None:
    key, text = _key(team)
    _, other = _key(team, require_signature=False, name="Other")
    headers = signature_headers(key, "GET", WHOAMI, [])
    same = client.get(WHOAMI, headers={**headers, "Authorization": f"Bearer {text}"})
    assert same.status_code == 200
    headers = signature_headers(key, "GET", WHOAMI, [])
    answer = client.get(WHOAMI, headers={**headers, "Authorization": f"Bearer {other}"})
    assert answer.status_code == 401
    assert answer.json["detail"] == "The API key sent is not the one that signed."


def test_old_nonces_are_purged(client: FlaskClient, team: Team) -> None:
    key, _ = _key(team)
    db.session.add(ApiNonce(key_id=key.id, nonce="x" * 20, seen_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    assert client.get(WHOAMI, headers=signature_headers(key, "GET", WHOAMI, [])).status_code == 200
    nonces = db.session.scalars(select(ApiNonce.nonce)).all()
    assert len(nonces) == 1 and nonces[0] != "x" * 20
    assert db.session.scalar(select(func.count()).select_from(ApiNonce)) == 1


def test_the_documented_example_reproduces() -> None:
    """docs/api-auth.md's worked example, digit for digit."""
    from portal.api.auth.hmac import canonical_request, sign

    canonical = canonical_request(
        "POST",
        "/api/v1/clients",
        "expand=contacts&dry_run=",
        b'{"name":"Blue Harbor"}',
        "1767225600",
        "b3f1c9a2e4d84c0f9a1e",
    )
    assert canonical == EXAMPLE_CANONICAL
    assert sign(EXAMPLE_SECRET, canonical) == EXAMPLE_SIGNATURE


EXAMPLE_SECRET = "s3cr3t-signing-secret"
EXAMPLE_CANONICAL = (
    "POST\n"
    "/api/v1/clients\n"
    "dry_run=&expand=contacts\n"
    "5c7ac94b06e6bb5d67b2cbe08e8ad6653291f87ce6cd762c120f7ddd89321cac\n"
    "1767225600\n"
    "b3f1c9a2e4d84c0f9a1e"
)
EXAMPLE_SIGNATURE = "2dbee4ec7e4c10861b7f35d6e73dbdffcad299c5e6285c4bb7d680c25e07be72"
