"""API fixtures: keys with chosen scopes, a client that sends them, problem checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.api.principal import SCOPES
from portal.models import Role
from portal.services import api_keys
from tests.conftest import Team

PROBLEM = "application/problem+json"


class Api:
    """Calls ``/api/v1`` with one key."""

    def __init__(self, client: FlaskClient, key: str) -> None:
        self.client = client
        self.key = key

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(headers or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(
            "/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw
        )

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(
            "/api/v1" + path,
            json=json if json is not None else {},
            headers=self._headers(kw.pop("headers", None)),
            csrf=False,
            **kw,
        )

    def patch(self, path: str, json: Any, **kw: Any) -> Any:
        return self.client.patch(
            "/api/v1" + path, json=json, headers=self._headers(kw.pop("headers", None)), csrf=False
        )

    def put(self, path: str, json: Any, **kw: Any) -> Any:
        return self.client.put(
            "/api/v1" + path, json=json, headers=self._headers(kw.pop("headers", None)), csrf=False
        )

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(
            "/api/v1" + path, headers=self._headers(kw.pop("headers", None)), csrf=False
        )


def make_key(team: Team, scopes: tuple[str, ...] | None = None, role: Role = Role.OWNER) -> str:
    _, raw = api_keys.create_key(
        team.actor(role),
        api_keys.KeyData(name="Test key", scopes=scopes if scopes is not None else tuple(SCOPES)),
    )
    return raw


@pytest.fixture(autouse=True)
def generous_rate_limits(app: Flask) -> Iterator[None]:
    """These tests call the API many times a second from one address; limits have their own."""
    names = ("API_RATE_LIMIT_BURST", "API_RATE_LIMIT_SUSTAINED", "API_RATE_LIMIT_PER_IP")
    saved = {name: app.config.get(name) for name in names}
    app.config.update(dict.fromkeys(names, "1000000 per second"))
    yield
    app.config.update(saved)


@pytest.fixture
def api(client: FlaskClient, team: Team) -> Api:
    return Api(client, make_key(team))


@pytest.fixture
def api_with(client: FlaskClient, team: Team) -> Callable[..., Api]:
    def make(*scopes: str, who: Team | None = None) -> Api:
        return Api(client, make_key(who or team, scopes))

    return make


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, body
    return body
