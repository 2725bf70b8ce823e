"""Rate limits counted in a real Redis, as in production: an app of this module's own whose
``REDIS_URL`` names Redis database 9 (``portal/config.py`` makes it the limiter's storage).

The counts are read back from Redis itself: per API key, per OAuth grant, per address.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask
from flask.testing import FlaskClient
from limits.storage import RedisStorage
from redis import Redis

from portal import create_app
from portal.extensions import db as _db
from portal.extensions import limiter
from portal.models import Role
from portal.services import api_keys, oauth
from tests.conftest import PASSWORD, CsrfClient, Team, app_config, make_team, redis_test_url

pytestmark = pytest.mark.redis

REDIS_URL = redis_test_url("TEST_RATE_LIMIT_REDIS_URL", 9)
CLIENTS = "/api/v1/clients"
CALLBACK = "http://127.0.0.1:9/callback"
Headers = dict[str, str]


@pytest.fixture(scope="module")
def redis_app(app: Flask, database_url: str) -> Iterator[Flask]:
    """The same database as the suite's app; limits counted in Redis."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REDIS_URL", REDIS_URL)
        limited = create_app(app_config(database_url))
    limited.test_client_class = CsrfClient
    yield limited
    with limited.app_context():
        _db.engine.dispose()
    # Flask-Limiter keeps one storage for the process, set by the last app it was bound to:
    # give the suite's app its own back.
    limiter.init_app(app)
    Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture
def store(redis_app: Flask, db: Any) -> Redis:
    """Redis database 9, empty: every count a test sees is its own."""
    connection = Redis.from_url(REDIS_URL, decode_responses=True)
    connection.flushdb()
    return connection


@pytest.fixture
def limits(redis_app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    config = {
        "API_RATE_LIMIT_BURST": "3 per 10 seconds",
        "API_RATE_LIMIT_SUSTAINED": "1000 per hour",
        "API_RATE_LIMIT_PER_IP": "1000 per hour",
    }
    for name, value in config.items():
        monkeypatch.setitem(redis_app.config, name, value)
    return config


@pytest.fixture
def web(redis_app: Flask, store: Redis) -> FlaskClient:
    return redis_app.test_client()


def counter(store: Redis, *parts: str) -> str:
    """The one Redis key of the limiter's whose name holds every part (``/api-ip/198.51.100.7/``,
    ``/3/10/second``)."""
    (key,) = [k for k in store.scan_iter("LIMITS:*") if all(p in k for p in parts)]
    return str(key)


def count_of(store: Redis, *parts: str) -> int:
    return int(store.get(counter(store, *parts)) or 0)


# Addresses of TEST-NET-2; Redis is emptied before each test, so each test has them to itself.
HERE = {"REMOTE_ADDR": "198.51.100.7"}
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.8"}


def _get(web: FlaskClient, headers: Headers, address: dict[str, str]) -> Any:
    return web.get(CLIENTS, headers=headers, environ_base=address)


def _key(team: Team) -> tuple[Headers, str]:
    key, text = api_keys.create_key(
        team.actor(Role.ADMIN), api_keys.KeyData(name="Busy", scopes=("clients:read",))
    )
    return {"X-Api-Key": text}, f"/api/key:{key.id}/"


def _register(team: Team) -> tuple[Any, str]:
    return oauth.register_app(
        team.actor(Role.ADMIN),
        oauth.AppData(
            name="Ledger Sync",
            redirect_uris=(CALLBACK,),
            confidential=True,
            grant_types=("authorization_code", "client_credentials"),
            scopes=("clients:read",),
        ),
    )


def _client_credentials(web: FlaskClient, client_id: str, secret: str) -> Headers:
    answer = web.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "clients:read"},
        auth=(client_id, secret),
        csrf=False,
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {"Authorization": f"Bearer {answer.json['access_token']}"}


def _approved(redis_app: Flask, member: Team, client_id: str, secret: str) -> Headers:
    """The owner of ``member``'s business approves the app on the consent screen."""
    browser = redis_app.test_client()
    owner = member.users[Role.OWNER]
    logged_in = browser.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert logged_in.status_code == 303, logged_in.get_data(as_text=True)
    verifier = secrets.token_urlsafe(48)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "scope": "clients:read",
            "state": "s",
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    assert browser.get(f"/oauth/authorize?{query}").status_code == 200
    back = browser.post(f"/oauth/authorize?{query}", data={"decision": "approve"})
    assert back.status_code == 302, back.get_data(as_text=True)
    (code,) = parse_qs(urlsplit(back.headers["Location"]).query)["code"]
    answer = browser.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(client_id, secret),
        csrf=False,
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {"Authorization": f"Bearer {answer.json['access_token']}"}


Credential = Callable[[], tuple[Headers, str]]


@pytest.fixture(params=["key", "oauth"])
def credential(request: pytest.FixtureRequest, team: Team, web: FlaskClient) -> Credential:
    """Makes a new caller: an API key, or an app's client credentials token. Returns the headers
    that send it and the part of the Redis keys that names its count."""

    def key() -> tuple[Headers, str]:
        return _key(team)

    def token() -> tuple[Headers, str]:
        app, secret = _register(team)
        grant = f"/api/oauth:{app.id}/business:{team.business.id}/user:{app.created_by_id}/"
        return _client_credentials(web, app.client_id, secret), grant

    return key if request.param == "key" else token


def test_the_limiter_counts_in_the_redis_at_redis_url(redis_app: Flask) -> None:
    assert redis_app.config["REDIS_URL"] == REDIS_URL
    assert redis_app.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
    assert isinstance(limiter.storage, RedisStorage)


def test_the_burst_limit_per_credential(
    web: FlaskClient, store: Redis, limits: dict[str, str], credential: Credential
) -> None:
    headers, counted = credential()
    for left in (2, 1, 0):
        served = _get(web, headers, HERE)
        assert served.status_code == 200, served.get_data(as_text=True)
        assert served.headers["RateLimit-Limit"] == "3"
        assert served.headers["RateLimit-Remaining"] == str(left)
        assert 0 < int(served.headers["RateLimit-Reset"]) <= 10
    assert count_of(store, counted, "/3/10/second") == 3

    refused = _get(web, headers, HERE)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.json["type"].endswith("/rate-limited")
    assert (refused.json["title"], refused.json["status"]) == ("Too many requests", 429)
    assert refused.json["detail"].startswith("Slow down: 3 requests in this window at most")
    assert refused.headers["RateLimit-Limit"] == "3"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert refused.headers["Retry-After"] == str(max(int(refused.headers["RateLimit-Reset"]), 1))
    # Redis keeps the count, refused call included, for no longer than the window.
    assert count_of(store, counted, "/3/10/second") == 4
    assert 0 < store.ttl(counter(store, counted, "/3/10/second")) <= 10


def test_the_sustained_limit_per_credential(
    web: FlaskClient,
    store: Redis,
    limits: dict[str, str],
    credential: Credential,
    redis_app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(redis_app.config, "API_RATE_LIMIT_BURST", "100 per second")
    monkeypatch.setitem(redis_app.config, "API_RATE_LIMIT_SUSTAINED", "5 per hour")
    headers, counted = credential()
    statuses = [_get(web, headers, HERE).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert count_of(store, counted, "/5/1/hour") == 5
    # Bursts spread out do not help: each one spends the hour's allowance.
    refused = _get(web, headers, HERE)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["RateLimit-Limit"] == "5"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 60 < int(refused.headers["Retry-After"]) <= 3600
    assert 60 < store.ttl(counter(store, counted, "/5/1/hour")) <= 3600


def test_each_credential_has_its_own_count(
    web: FlaskClient, store: Redis, limits: dict[str, str], credential: Credential
) -> None:
    (first, first_counted), (second, second_counted) = credential(), credential()
    for _ in range(3):
        _get(web, first, HERE)
    assert _get(web, first, HERE).status_code == 429
    answer = _get(web, second, HERE)
    assert answer.status_code == 200
    assert answer.headers["RateLimit-Remaining"] == "2"
    assert count_of(store, first_counted, "/3/10/second") == 4
    assert count_of(store, second_counted, "/3/10/second") == 1


def test_the_address_limit_counts_every_caller_from_it(
    web: FlaskClient,
    store: Redis,
    limits: dict[str, str],
    team: Team,
    redis_app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(redis_app.config, "API_RATE_LIMIT_PER_IP", "4 per minute")
    (first, _), (second, _) = _key(team), _key(team)
    assert _get(web, first, HERE).status_code == 200
    assert _get(web, second, HERE).status_code == 200
    # A guessed key is refused, and still counts: guessing stays slow.
    assert _get(web, {"X-Api-Key": "il_guessed_000000"}, HERE).status_code == 401
    last = _get(web, first, HERE)
    assert last.status_code == 200
    assert last.headers["RateLimit-Limit"] == "4"
    assert last.headers["RateLimit-Remaining"] == "0"
    refused = _get(web, second, HERE)
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["RateLimit-Limit"] == "4"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert count_of(store, f"/api-ip/{HERE['REMOTE_ADDR']}/", "/4/1/minute") == 5
    # The keys have calls left; another address is served.
    assert _get(web, second, ELSEWHERE).status_code == 200


def test_an_oauth_token_counts_for_its_grant_not_alone_nor_for_the_whole_app(
    web: FlaskClient, store: Redis, limits: dict[str, str], team: Team, redis_app: Flask
) -> None:
    app, secret = _register(team)
    mine = _client_credentials(web, app.client_id, secret)
    for _ in range(3):
        assert _get(web, mine, HERE).status_code == 200
    assert _get(web, mine, HERE).status_code == 429
    # A new token of the same grant buys no more calls.
    again = _client_credentials(web, app.client_id, secret)
    assert again != mine
    assert _get(web, again, HERE).status_code == 429
    # Another business approved the same app: its calls are its own.
    other = make_team("Other Co")
    theirs = _approved(redis_app, other, app.client_id, secret)
    served = _get(web, theirs, HERE)
    assert served.status_code == 200, served.get_data(as_text=True)
    assert served.headers["RateLimit-Remaining"] == "2"
    ours = f"/api/oauth:{app.id}/business:{team.business.id}/user:{app.created_by_id}/"
    assert count_of(store, ours, "/3/10/second") == 5
    member = other.users[Role.OWNER].id
    assert count_of(store, f"/business:{other.business.id}/user:{member}/", "/3/10/second") == 1
