"""A forged cross-site form: every state-changing route outside the API refuses it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from portal import create_app
from portal.models import AuditEvent, Role
from tests.web.helpers import count, text_of
from tests.web.test_roles import ACCESS, Access

CSRF_MESSAGE = "The form expired or came from another site. Reload the page and try again."
# Authenticated otherwise (a key, a signature, client credentials), never by a cookie.
EXEMPT_PREFIXES = ("/api/", "/hooks/")
EXEMPT = {"/oauth/token", "/oauth/revoke", "/oauth/introspect"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _unsafe_routes() -> list[tuple[str, str]]:
    """Read from the URL map itself, so a new form is checked the day it appears."""
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "x" * 32, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    )
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(EXEMPT_PREFIXES) or rule.rule in EXEMPT:
            continue
        for method in (rule.methods or set()) & UNSAFE:
            found.add((method, rule.rule))
    return sorted(found)


ROUTES = _unsafe_routes()


def test_every_unsafe_route_has_a_way_to_call_it() -> None:
    assert [key for key in ROUTES if key not in ACCESS] == []
    assert len(ROUTES) > 100


@pytest.mark.parametrize("key", ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_a_forged_form_is_refused_and_writes_nothing(
    key: tuple[str, str], ids: dict[str, str], login: Any, app: Flask
) -> None:
    method, _ = key
    access: Access = ACCESS[key]
    client = login(Role.OWNER)
    url = access.url.format(**ids)
    data = {k: v.format(**ids) for k, v in (access.data or {}).items()}
    events = count(AuditEvent)
    response = client.open(url, method=method, data=data, csrf=False)
    assert response.status_code == 400, text_of(response)
    assert CSRF_MESSAGE in text_of(response)
    assert count(AuditEvent) == events
    # Still logged in, still the same session: the forged logout ended nothing either.
    assert client.get("/app/").status_code == 200
