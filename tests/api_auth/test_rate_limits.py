"""Rate limits per key or token and per address: headers on every answer, a 429 problem."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.api import ratelimit
from portal.models import Role
from portal.services import api_keys
from tests.conftest import Team

WHOAMI = "/api/v1/probe/whoami"


@pytest.fixture
def limits(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Small limits of this test's own; the counts live in the app's limiter storage."""
    config = {
        "API_RATE_LIMIT_BURST": "3 per 10 seconds",
        "API_RATE_LIMIT_SUSTAINED": "5 per hour",
        "API_RATE_LIMIT_PER_IP": "1000 per hour",
    }
    for name, value in config.items():
        monkeypatch.setitem(app.config, name, value)
    yield config


# Hosts of TEST-NET-2 no other test uses, each handed out once per test process: two
# addresses of one test never coincide, and no count of another test's meets them.
_HOSTS = iter(random.SystemRandom().sample(range(100, 250), 150))


def _address() -> dict[str, str]:
    address = f"198.51.100.{next(_HOSTS)}"
    ratelimit.reset(None, address)
    return {"REMOTE_ADDR": address}


def _key(team: Team) -> str:
    key, text = api_keys.create_key(
        team.actor(Role.ADMIN), api_keys.KeyData(name="Busy", scopes=("clients:read",))
    )
    ratelimit.reset(api_keys.principal_of(key), "")
    return text


def _get(client: FlaskClient, text: str, address: dict[str, str]) -> Any:
    return client.get(WHOAMI, headers={"Authorization": f"Bearer {text}"}, environ_base=address)


def test_every_answer_says_how_many_calls_are_left(
    client: FlaskClient, team: Team, limits: dict[str, str]
) -> None:
    text, address = _key(team), _address()
    first = _get(client, text, address)
    assert first.status_code == 200
    assert first.headers["RateLimit-Limit"] == "3"
    assert first.headers["RateLimit-Remaining"] == "2"
    assert 0 < int(first.headers["RateLimit-Reset"]) <= 10
    second = _get(client, text, address)
    assert second.headers["RateLimit-Remaining"] == "1"


def test_the_burst_limit_answers_429_with_retry_after(
    client: FlaskClient, team: Team, limits: dict[str, str]
) -> None:
    text, address = _key(team), _address()
    for _ in range(3):
        assert _get(client, text, address).status_code == 200
    refused = _get(client, text, address)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json["type"].endswith("/rate-limited")
    assert refused.json["title"] == "Too many requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert refused.headers["RateLimit-Remaining"] == "0"


def test_the_sustained_limit_holds_across_bursts(
    client: FlaskClient,
    team: Team,
    limits: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    app: Flask,
) -> None:
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_BURST", "100 per second")
    text, address = _key(team), _address()
    statuses = [_get(client, text, address).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    refused = _get(client, text, address)
    assert refused.headers["RateLimit-Limit"] == "5"
    assert int(refused.headers["Retry-After"]) > 60


def test_each_key_has_its_own_count(
    client: FlaskClient, team: Team, limits: dict[str, str]
) -> None:
    first, second, address = _key(team), _key(team), _address()
    for _ in range(3):
        _get(client, first, address)
    assert _get(client, first, address).status_code == 429
    assert _get(client, second, address).status_code == 200


def test_the_address_limit_counts_every_key_calling_from_it(
    client: FlaskClient,
    team: Team,
    limits: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    app: Flask,
) -> None:
    monkeypatch.setitem(app.config, "API_RATE_LIMIT_PER_IP", "3 per minute")
    first, second, address = _key(team), _key(team), _address()
    statuses = [_get(client, key, address).status_code for key in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]
    assert _get(client, second, _address()).status_code == 200
