"""API keys at the door: rotation with an overlap, expiry, last-used time, keys that must sign,
and what is kept of a key (its prefix and a hash)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiKey, Membership, Role
from portal.models.base import utcnow
from portal.services import api_keys
from portal.services.errors import InvalidInput
from tests.conftest import Team

WHOAMI = "/api/v1/probe/whoami"
CLIENTS = "/api/v1/clients"


def _key(team: Team, role: Role = Role.ADMIN, **overrides: Any) -> tuple[ApiKey, str]:
    data = {"name": "Sync", "scopes": ("clients:read",)} | overrides
    return api_keys.create_key(team.actor(role), api_keys.KeyData(**data))


def _call(client: FlaskClient, key: str) -> Any:
    return client.get(WHOAMI, headers={"Authorization": f"Bearer {key}"})


def test_a_key_acts_as_its_member_within_its_scopes(client: FlaskClient, team: Team) -> None:
    _, text = _key(team)
    answer = _call(client, text)
    assert answer.status_code == 200
    assert answer.json["user"] == team.users[Role.ADMIN].email
    assert answer.json["scopes"] == ["clients:read"]
    assert client.get("/api/v1/probe/clients/write", headers={"X-Api-Key": text}).status_code == 403


def test_rotation_keeps_the_old_key_working_until_the_overlap_ends(
    client: FlaskClient, team: Team
) -> None:
    old, old_text = _key(team)
    new, new_text = api_keys.rotate_key(team.actor(Role.ADMIN), old.public_id, timedelta(hours=1))
    assert (new.name, new.scopes) == (old.name, old.scopes)
    assert old.replaced_by_id == new.id
    assert _call(client, old_text).status_code == 200
    assert _call(client, new_text).status_code == 200
    old.revoked_at = utcnow() - timedelta(seconds=1)  # the overlap is over
    db.session.commit()
    refused = _call(client, old_text)
    assert refused.status_code == 401
    assert refused.json["detail"] == "This API key was rotated; use the key that replaced it."
    assert _call(client, new_text).status_code == 200


def test_a_key_rotated_with_no_overlap_stops_at_once(client: FlaskClient, team: Team) -> None:
    old, old_text = _key(team)
    api_keys.rotate_key(team.actor(Role.ADMIN), old.public_id, timedelta(0))
    assert _call(client, old_text).status_code == 401


def test_a_key_is_rotated_once_and_within_thirty_days(team: Team) -> None:
    old, _ = _key(team)
    admin = team.actor(Role.ADMIN)
    with pytest.raises(InvalidInput, match=re.escape("between 0 and 30 days")):
        api_keys.rotate_key(admin, old.public_id, timedelta(days=31))
    api_keys.rotate_key(admin, old.public_id, timedelta(days=1))
    with pytest.raises(InvalidInput, match=re.escape("already rotated; rotate its successor")):
        api_keys.rotate_key(admin, old.public_id, timedelta(days=1))


def test_revoking_a_key_in_its_overlap_stops_it_now(client: FlaskClient, team: Team) -> None:
    old, old_text = _key(team)
    api_keys.rotate_key(team.actor(Role.ADMIN), old.public_id, timedelta(days=7))
    api_keys.revoke_key(team.actor(Role.ADMIN), old.public_id)
    assert _call(client, old_text).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(client: FlaskClient, team: Team) -> None:
    key, text = _key(team)
    assert key.last_used_at is None
    _call(client, text)
    db.session.refresh(key)
    first = key.last_used_at
    assert first is not None
    _call(client, text)
    db.session.refresh(key)
    assert key.last_used_at == first
    key.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    _call(client, text)
    db.session.refresh(key)
    assert key.last_used_at is not None and key.last_used_at > first - timedelta(minutes=1)


def test_a_key_that_must_sign_is_refused_unsigned(client: FlaskClient, team: Team) -> None:
    key, text = _key(team, require_signature=True)
    assert key.signing_secret
    answer = _call(client, text)
    assert answer.status_code == 401
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json["type"].endswith("/signature_required")
    assert "accepts signed requests only" in answer.json["detail"]


def test_a_key_loses_scopes_its_members_role_no_longer_grants(
    client: FlaskClient, team: Team
) -> None:
    _, text = _key(team, role=Role.ADMIN, scopes=("clients:read", "catalogue:write"))
    membership = db.session.query(Membership).filter_by(user=team.users[Role.ADMIN]).one()
    membership.role = Role.VIEWER
    db.session.commit()
    assert _call(client, text).json["scopes"] == ["clients:read"]


def test_an_expired_key_is_refused_with_a_401_problem(client: FlaskClient, team: Team) -> None:
    key, text = _key(team, expires_at=utcnow() + timedelta(hours=1))
    assert client.get(CLIENTS, headers={"X-Api-Key": text}).status_code == 200
    key.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    refused = client.get(CLIENTS, headers={"X-Api-Key": text})
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    assert refused.json["status"] == 401
    assert refused.json["detail"] == "This API key has expired."
    assert refused.headers["WWW-Authenticate"] == (
        'Bearer realm="invoice-lite", error="invalid_credentials"'
    )
    # As a bearer token, and on the probe, the same.
    assert _call(client, text).status_code == 401


def test_only_the_prefix_and_a_hash_of_the_secret_are_kept(client: FlaskClient, team: Team) -> None:
    key, text = _key(team)
    prefix, secret = text.removeprefix("il_").split("_", 1)
    assert _call(client, text).status_code == 200  # used: the access log has its row too
    row = db.session.execute(select(ApiKey.__table__).where(ApiKey.id == key.id)).one()
    assert row.prefix == prefix
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    # Neither the key nor its secret is anywhere in the database: every row of every table.
    for table in db.metadata.sorted_tables:
        for stored in db.session.execute(select(table)):
            assert secret not in repr(tuple(stored)), table.name
